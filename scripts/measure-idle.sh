#!/usr/bin/env bash
# Measures the idle resident: memory (RSS, PSS) and wakeups (voluntary context switches)
# over a quiet period, with no session, with a session running whose next deadline is
# hours away, and after a check-in. Twice: headless (`deepwork daemon --headless`), and
# as the desktop resident with its tray icon and hotkey, on a private X server (Xvfb) and
# session bus started here. Usage: scripts/measure-idle.sh [SECONDS]   (default 60)
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."

echo "measure-idle: building the release binary"
cargo build --release -q -p deepwork-cli
bin=$PWD/target/release/deepwork

dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
pss() { awk '$1 == "Pss:" { print $2 }' "/proc/$pid/smaps_rollup"; }
threads() { ls "/proc/$pid/task" | wc -l; }
# Voluntary context switches per thread, as "tid count" lines.
switches() {
  for task in /proc/"$pid"/task/*; do
    echo "${task##*/} $(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$task/status" 2>/dev/null || echo 0)"
  done
}

# Wakeups are counted over the threads alive at both ends of the period: a pool thread
# that exits meanwhile (tokio's blocking threads linger 10 s) would count negative.
measure() {
  local label=$1
  sleep 2
  local before after
  before=$(switches)
  sleep "$seconds"
  after=$(switches)
  local woke
  woke=$(awk 'NR == FNR { start[$1] = $2; next } ($1 in start) { sum += $2 - start[$1] } END { print sum + 0 }' \
    <(echo "$before") <(echo "$after"))
  printf '%-44s RSS %6s kB  PSS %6s kB  threads %2s  voluntary context switches in %ss: %s\n' \
    "$label" "$(field VmRSS)" "$(pss)" "$(threads)" "$seconds" "$woke"
}

# run_resident LABEL DAEMON-ARGS...: one daemon in fresh files, measured in three states.
run_resident() {
  local label=$1
  shift
  local home=$dir/$label
  mkdir -p "$home"
  export DEEPWORK_CONFIG=$home/config.toml DEEPWORK_DATA_DIR=$home/data DEEPWORK_SOCKET=$home/engine.sock
  # Every default (notifications on) but the window at check-in: it is measured apart.
  printf '[desktop]\nopen_digest_at_check_in = false\n' >"$DEEPWORK_CONFIG"
  "$bin" daemon "$@" 2>"$home/daemon.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do [ -S "$DEEPWORK_SOCKET" ] && break; sleep 0.05; done
  measure "$label: idle, no session"
  "$bin" start --for 3h >/dev/null
  for n in $(seq 50); do "$bin" push --source bench --from bot --title "item $n" >/dev/null; done
  measure "$label: session running, 50 held"
  "$bin" checkin >/dev/null
  measure "$label: after a check-in"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

run_resident headless --headless

# The desktop resident: its own X server and session bus, so the tray and hotkey are live.
# shellcheck source=scripts/private-desktop.sh
source scripts/private-desktop.sh
start_private_desktop
run_resident "tray+hotkey"
grep -q "tray icon published" "$dir/tray+hotkey/daemon.log" || { echo "measure-idle: the tray did not start" >&2; exit 1; }
