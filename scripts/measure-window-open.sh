#!/usr/bin/env bash
# Tray click → window on screen with its data drawn. A resident (release build) runs on a
# private X server and session bus; "Open Deepwork" is clicked through dbusmenu, as a
# tray host does, and the time runs until a visible X window named "Deepwork" exists.
# The window is created hidden and shown by the page once its first frame with data is
# drawn, so "visible" means "painted with data". Baseline, same run: a bare Tauri 2 app
# (benches/yardstick-tauri) from exec to its empty window mapped.
# As root, it first measures the open after boot: the page cache dropped, the resident
# started, a click 5 s later; once without and once with the resident reading the
# window's files ahead ([desktop] prefetch_window). Then RUNS warm opens.
# Usage: scripts/measure-window-open.sh [RUNS]   (default 5)
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."

# shellcheck source=scripts/private-desktop.sh
source scripts/private-desktop.sh
build_with_yardstick measure-window-open

dir=$(mktemp -d)
pids=()
trap 'pkill -f "$bin/deepwork-app" 2>/dev/null || true; kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
start_private_desktop
export HOME=$dir DEEPWORK_CONFIG=$dir/config.toml DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/engine.sock
export DEEPWORK_APP=$bin/deepwork-app
: >"$DEEPWORK_CONFIG"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Waits until xdotool finds a visible window for ARGS; prints the ms it took since START.
wait_visible() {
  local start=$1
  shift
  until xdotool search --onlyvisible "$@" >/dev/null 2>&1; do sleep 0.005; done
  echo $(($(now_ms) - start))
}

# Starts a resident (its log in "$dir/resident-$1.log"); sets "resident", "tray", "open_id".
start_resident() {
  "$bin/deepwork" daemon 2>"$dir/resident-$1.log" &
  resident=$!
  pids+=("$resident")
  tray=org.kde.StatusNotifierItem-$resident-1
  until busctl --user list 2>/dev/null | grep -q "$tray"; do sleep 0.01; done
  open_id=$(busctl --user --json=short call -- "$tray" /MenuBar com.canonical.dbusmenu GetLayout iias 0 -1 0 |
    jq '.. | objects | select(.type == "(ia{sv}av)") | .data | select(.[1].label.data == "Open Deepwork") | .[0]')
}

stop_resident() {
  kill "$resident"
  wait "$resident" 2>/dev/null || true
}

# Clicks "Open Deepwork"; prints the ms until the window shows with data, then closes it.
open_once() {
  local start took
  start=$(now_ms)
  busctl --user call -- "$tray" /MenuBar com.canonical.dbusmenu Event isvu "$open_id" clicked s "" 0
  took=$(wait_visible "$start" --name '^Deepwork$')
  pkill -f "$bin/deepwork-app"
  while pgrep -f "$bin/deepwork-app" >/dev/null; do sleep 0.05; done
  echo "$took"
}

# As after boot: the page cache dropped, then the resident starts (as at login) and the
# window is opened a little later. Once without reading the window's files ahead, once
# with (the default); only as root, which may drop the cache.
cold=no
cold_plain=-
cold_read_ahead=-
if [ -w /proc/sys/vm/drop_caches ]; then
  cold=yes
  printf '[desktop]\nprefetch_window = false\n' >"$DEEPWORK_CONFIG"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  start_resident plain
  sleep 5
  cold_plain=$(open_once)
  stop_resident
  : >"$DEEPWORK_CONFIG"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  start_resident read-ahead
  until grep -q "read the window's files ahead" "$dir/resident-read-ahead.log"; do sleep 0.05; done
  sleep 5
  cold_read_ahead=$(open_once)
else
  start_resident warm
fi
opens=()
for _ in $(seq "$runs"); do
  opens+=("$(open_once)")
done

bare=()
for _ in $(seq "$runs"); do
  start=$(now_ms)
  "$yardstick" window 2>/dev/null &
  app=$!
  bare+=("$(wait_visible "$start" --pid "$app")")
  kill "$app"
  wait "$app" 2>/dev/null || true
done

painted=$(cat "$dir"/resident-*.log | grep -o "since_start_ms=[0-9]*" | cut -d= -f2 | tr "\n" " " || true)
read_ahead=$(grep -ho "read the window's files ahead.*" "$dir"/resident-*.log | head -1 || true)
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "cold, as after boot (page cache dropped before the resident started; 5 s later a click): without read-ahead $cold_plain ms, with it $cold_read_ahead ms (cold measured: $cold)"
echo "  the resident's read-ahead: $read_ahead"
echo "tray click -> Deepwork window painted with data, warm, ms: ${opens[*]}"
echo "  of which, app process start -> page painted (the app's log), ms: $painted"
echo "bare Tauri app exec -> empty window mapped, ms: ${bare[*]}"
awk -v deepwork="$(median "${opens[@]:1}")" -v bare="$(median "${bare[@]:1}")" 'BEGIN {
  printf "warm medians (first run left out): Deepwork %d ms, bare Tauri %d ms, ratio %.2f\n", deepwork, bare, deepwork / bare
}'
