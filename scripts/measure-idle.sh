#!/usr/bin/env bash
# Measures the idle daemon: memory (RSS, PSS) and wakeups (voluntary context switches)
# over a quiet period, once with no session and once with a session running whose next
# deadline is hours away. Usage: scripts/measure-idle.sh [SECONDS]   (default 60)
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."

echo "measure-idle: building the release binary"
cargo build --release -q -p deepwork-cli
bin=$PWD/target/release/deepwork

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
export DEEPWORK_CONFIG=$dir/config.toml DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/engine.sock
: >"$DEEPWORK_CONFIG"  # every default, notifications on
"$bin" daemon 2>"$dir/daemon.log" &
pid=$!
for _ in $(seq 100); do [ -S "$DEEPWORK_SOCKET" ] && break; sleep 0.05; done

field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
pss() { awk '$1 == "Pss:" { print $2 }' "/proc/$pid/smaps_rollup"; }
threads() { ls "/proc/$pid/task" | wc -l; }
switches() {
  local total=0
  for task in /proc/"$pid"/task/*; do
    total=$((total + $(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$task/status")))
  done
  echo "$total"
}

measure() {
  local label=$1
  sleep 1
  local before after
  before=$(switches)
  sleep "$seconds"
  after=$(switches)
  printf '%-32s RSS %6s kB  PSS %6s kB  threads %s  voluntary context switches in %ss: %s\n' \
    "$label" "$(field VmRSS)" "$(pss)" "$(threads)" "$seconds" "$((after - before))"
}

measure "idle, no session"
"$bin" start --for 3h >/dev/null
for n in $(seq 50); do "$bin" push --source bench --from bot --title "item $n" >/dev/null; done
measure "session running, 50 held"
"$bin" checkin >/dev/null
measure "after a check-in notification"
