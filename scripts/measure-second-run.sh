#!/usr/bin/env bash
# A second `make run` on an up-to-date checkout: from the command to the window on screen
# (a visible X window named "Deepwork"), on a private X server and session bus with a
# fresh config and data folder. One `make run` first builds whatever is out of date (not
# timed); then RUNS more are timed, each stopped once its window shows.
# Usage: scripts/measure-second-run.sh [RUNS]   (default 3)
set -euo pipefail
runs=${1:-3}
cd "$(dirname "$0")/.."

# shellcheck source=scripts/private-desktop.sh
source scripts/private-desktop.sh

dir=$(mktemp -d)
pids=()
run_group=
# Stops the run: make's process group, then any Deepwork program of this checkout left
# outside it, until no window of it is on the screen.
stop_run() {
  if [ -n "$run_group" ]; then
    kill -- "-$run_group" 2>/dev/null || true
    wait "$run_group" 2>/dev/null || true
    run_group=
  fi
  pkill -f "^$PWD/target/release/deepwork" 2>/dev/null || true
  pkill -f "^./target/release/deepwork" 2>/dev/null || true
  while xdotool search --onlyvisible --name '^Deepwork$' >/dev/null 2>&1; do sleep 0.05; done
}
trap 'stop_run; kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
start_private_desktop
# cargo and rustup stay where they are; Deepwork gets a home of its own.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export HOME=$dir XDG_RUNTIME_DIR=$dir DEEPWORK_CONFIG=$dir/config.toml \
  DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/engine.sock
: >"$DEEPWORK_CONFIG"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Runs `make run` until the window shows; prints the milliseconds that took.
one_run() {
  local start deadline
  start=$(now_ms)
  deadline=$((start + 900000))
  setsid make -s run >"$dir/run.log" 2>&1 &
  run_group=$!
  until xdotool search --onlyvisible --name '^Deepwork$' >/dev/null 2>&1; do
    if [ "$(now_ms)" -gt "$deadline" ] || ! kill -0 "$run_group" 2>/dev/null; then
      echo "measure-second-run: no window; make run said:" >&2
      cat "$dir/run.log" >&2
      exit 1
    fi
    sleep 0.02
  done
  echo $(($(now_ms) - start))
  stop_run
}

echo "measure-second-run: a first make run builds what is out of date" >&2
one_run >/dev/null
for n in $(seq "$runs"); do
  echo "make run → window shown, run $n: $(one_run) ms"
done
