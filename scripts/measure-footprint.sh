#!/usr/bin/env bash
# Footprint of the resident (tray + engine + hotkey) and of the window, against a bare
# Tauri 2 app built from benches/yardstick-tauri, all release builds on a private X
# server (Xvfb) and session bus started here. Footprint = the sum of PSS of a process
# and all its descendants (the window's WebKit processes count), read after SETTLE
# seconds. The resident is read twice: after start, and in a session holding 200
# messages of the triage corpus, when triage has paged in most of its model.
# Usage: scripts/measure-footprint.sh [SETTLE]   (default 8)
set -euo pipefail
settle=${1:-8}
cd "$(dirname "$0")/.."

# shellcheck source=scripts/private-desktop.sh
source scripts/private-desktop.sh
build_with_yardstick measure-footprint

dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
start_private_desktop
export HOME=$dir DEEPWORK_CONFIG=$dir/config.toml DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/engine.sock
: >"$DEEPWORK_CONFIG"

descendants() {
  local pid=$1 child
  echo "$pid"
  for child in $(pgrep -P "$pid" || true); do descendants "$child"; done
}
pss_tree() {
  local total=0 pid kb
  for pid in $(descendants "$1"); do
    kb=$(awk '$1 == "Pss:" { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
# measure LABEL COMMAND...: prints "LABEL KB" for COMMAND's process tree after settling.
measure() {
  local label=$1
  shift
  "$@" >/dev/null 2>"$dir/$label.log" &
  local pid=$!
  sleep "$settle"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "measure-footprint: $label exited before it was measured; its log:" >&2
    cat "$dir/$label.log" >&2
    exit 1
  fi
  local kb
  kb=$(pss_tree "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$label $kb"
}

# 200 lines spread over the training corpus: varied senders, languages and classes.
corpus_messages() {
  python3 -c '
import glob, json
lines = [l for f in sorted(glob.glob("crates/deepwork-core/triage/corpus/*.jsonl")) for l in open(f)]
for line in lines[:: len(lines) // 200][:200]:
    m = json.loads(line)
    print(m["from"], m["text"].replace("\n", " "), sep="\t")
'
}
# A resident in a session with the corpus messages held, read SETTLE seconds after. Its
# own files, so that the session it leaves does not reach the window measured next.
measure_in_session() {
  local DEEPWORK_CONFIG=$dir/session.toml DEEPWORK_DATA_DIR=$dir/session DEEPWORK_SOCKET=$dir/session.sock
  export DEEPWORK_CONFIG DEEPWORK_DATA_DIR DEEPWORK_SOCKET
  : >"$DEEPWORK_CONFIG"
  "$bin/deepwork" daemon >/dev/null 2>"$dir/resident-session.log" &
  local pid=$!
  for _ in $(seq 100); do [ -S "$DEEPWORK_SOCKET" ] && break; sleep 0.05; done
  "$bin/deepwork" start --for 3h >/dev/null
  local from text
  while IFS=$'\t' read -r from text; do
    "$bin/deepwork" push --source footprint --from="$from" --title="$text" >/dev/null
  done < <(corpus_messages)
  sleep "$settle"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "measure-footprint: the resident in a session exited before it was measured; its log:" >&2
    cat "$dir/resident-session.log" >&2
    exit 1
  fi
  echo "resident-session $(pss_tree "$pid")"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

results=$(
  measure yardstick-tray "$yardstick" tray
  measure yardstick-window "$yardstick" window
  measure resident "$bin/deepwork" daemon
  measure_in_session
)
# The window needs a resident; it is measured apart from it.
"$bin/deepwork" daemon --headless 2>/dev/null &
pids+=("$!")
for _ in $(seq 100); do [ -S "$DEEPWORK_SOCKET" ] && break; sleep 0.05; done
results+=$'\n'$(measure window "$bin/deepwork-app")

# Resident start → its tray on the bus, five times (busctl's own ~5 ms is included).
startups=()
for _ in 1 2 3 4 5; do
  started=$(date +%s%N)
  DEEPWORK_SOCKET=$dir/startup.sock DEEPWORK_DATA_DIR=$dir/startup "$bin/deepwork" daemon 2>/dev/null &
  resident=$!
  until busctl --user list 2>/dev/null | grep -q "StatusNotifierItem-$resident-"; do sleep 0.002; done
  startups+=($(( ($(date +%s%N) - started) / 1000000 )))
  kill "$resident"
  wait "$resident" 2>/dev/null || true
done
echo "resident start -> tray on the bus, ms: ${startups[*]}"

echo "$results" | awk '
  { kb[$1] = $2 }
  END {
    printf "%-36s %8s\n", "process tree (release, Xvfb)", "PSS MB"
    printf "%-36s %8.1f\n", "bare Tauri app, tray only", kb["yardstick-tray"] / 1024
    printf "%-36s %8.1f\n", "bare Tauri app, one empty window", kb["yardstick-window"] / 1024
    printf "%-36s %8.1f   (%.2fx the bare tray app)\n", "Deepwork resident (tray+engine+hotkey)", kb["resident"] / 1024, kb["resident"] / kb["yardstick-tray"]
    printf "%-36s %8.1f   (%.2fx the bare tray app)\n", "  the same, in a session, 200 held", kb["resident-session"] / 1024, kb["resident-session"] / kb["yardstick-tray"]
    printf "%-36s %8.1f   (%.2fx the bare window app)\n", "Deepwork window (app + WebKit)", kb["window"] / 1024, kb["window"] / kb["yardstick-window"]
  }'
