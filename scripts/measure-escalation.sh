#!/usr/bin/env bash
# Measures how close to its due time an escalation step fires, and that nothing wakes
# the daemon while no emergency is open. The release daemon runs on a private X server
# and session bus with dunst as the notification server; [escalation] runs a command
# 2 s after each emergency (the alert again after 1 s), and the command records when it
# ran. Each round pushes one emergency and acknowledges it after its command ran; the
# lateness is the command's start minus (the emergency's arrival + 2 s), the arrival as
# `deepwork status --json` reports it. The lateness includes starting the command.
# Usage: scripts/measure-escalation.sh [ROUNDS] [IDLE_SECONDS]   (default 10 and 30)
set -euo pipefail
rounds=${1:-10}
idle_seconds=${2:-30}
cd "$(dirname "$0")/.."

echo "measure-escalation: building the release binary"
cargo build --release -q -p deepwork-cli
bin=$PWD/target/release/deepwork

dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 800x600x24 >/dev/null 2>&1 &
pids+=($!)
DBUS_SESSION_BUS_ADDRESS=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 3>"$dir/bus.pid")
export DBUS_SESSION_BUS_ADDRESS
pids+=("$(cat "$dir/bus.pid")")
DISPLAY=$display dunst >/dev/null 2>&1 &
pids+=($!)

cat >"$dir/ran.sh" <<EOF
#!/bin/sh
date +%s.%N >> "$dir/ran"
EOF
chmod +x "$dir/ran.sh"
cat >"$dir/config.toml" <<EOF
[escalation]
renotify_after = "1s"
command_after = "2s"
command = ["$dir/ran.sh"]
EOF

export DEEPWORK_CONFIG=$dir/config.toml DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/run/engine.sock
export DISPLAY=$display
"$bin" daemon --headless 2>"$dir/daemon.log" &
pid=$!
pids+=($pid)
for _ in $(seq 100); do [ -S "$DEEPWORK_SOCKET" ] && break; sleep 0.1; done

switches() {
  for task in /proc/"$pid"/task/*; do
    awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$task/status" 2>/dev/null || echo 0
  done | awk '{ s += $1 } END { print s + 0 }'
}

"$bin" start --for 2h >/dev/null
sleep 2
before=$(switches)
sleep "$idle_seconds"
idle=$(($(switches) - before))

late=()
for round in $(seq "$rounds"); do
  : >"$dir/ran"
  "$bin" push --source pager --from ops --title "round $round: checkout down" --urgency emergency >/dev/null
  for _ in $(seq 100); do [ -s "$dir/ran" ] && break; sleep 0.05; done
  ran=$(cat "$dir/ran")
  arrived=$("$bin" status --json | jq -r '.escalations[0].opened_at')
  arrived_s=$(date -d "$arrived" +%s.%N)
  late+=("$(echo "($ran - $arrived_s - 2) * 1000" | bc -l)")
  "$bin" ack >/dev/null
done

printf '%s\n' "${late[@]}" | sort -n | awk -v idle="$idle" -v secs="$idle_seconds" '
  { v[NR] = $1 }
  END {
    printf "step lateness over %d emergencies: min %.1f ms, median %.1f ms, max %.1f ms\n", NR, v[1], v[int((NR + 1) / 2)], v[NR]
    printf "wakeups while no emergency was open (session running, %d s): %d\n", secs, idle
  }'
