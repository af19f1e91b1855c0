#!/usr/bin/env bash
# Tray click → window on screen with its data drawn. A resident (release build) runs on a
# private X server and session bus; "Open Deepwork" is clicked through dbusmenu, as a
# tray host does, and the time runs until a visible X window named "Deepwork" exists.
# The window is created hidden and shown by the page once its first frame with data is
# drawn, so "visible" means "painted with data". Baseline, same run: a bare Tauri 2 app
# (benches/yardstick-tauri) from exec to its empty window mapped.
# The first Deepwork run follows a page-cache drop when this runs as root (cold start).
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

"$bin/deepwork" daemon 2>"$dir/resident.log" &
resident=$!
pids+=("$resident")
tray=org.kde.StatusNotifierItem-$resident-1
until busctl --user list 2>/dev/null | grep -q "$tray"; do sleep 0.01; done
open_id=$(busctl --user --json=short call -- "$tray" /MenuBar com.canonical.dbusmenu GetLayout iias 0 -1 0 |
  jq '.. | objects | select(.type == "(ia{sv}av)") | .data | select(.[1].label.data == "Open Deepwork") | .[0]')

cold=no
if [ -w /proc/sys/vm/drop_caches ]; then
  sync
  echo 3 >/proc/sys/vm/drop_caches
  cold=yes
fi
opens=()
for _ in $(seq "$runs"); do
  start=$(now_ms)
  busctl --user call -- "$tray" /MenuBar com.canonical.dbusmenu Event isvu "$open_id" clicked s "" 0
  opens+=("$(wait_visible "$start" --name '^Deepwork$')")
  pkill -f "$bin/deepwork-app"
  while pgrep -f "$bin/deepwork-app" >/dev/null; do sleep 0.05; done
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

painted=$(grep -o "since_start_ms=[0-9]*" "$dir/resident.log" | cut -d= -f2 | tr "\n" " " || true)
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "tray click -> Deepwork window painted with data, ms: ${opens[*]} (first run cold: $cold)"
echo "  of which, app process start -> page painted (the app's log), ms: $painted"
echo "bare Tauri app exec -> empty window mapped, ms: ${bare[*]}"
awk -v deepwork="$(median "${opens[@]:1}")" -v bare="$(median "${bare[@]:1}")" 'BEGIN {
  printf "warm medians (first run left out): Deepwork %d ms, bare Tauri %d ms, ratio %.2f\n", deepwork, bare, deepwork / bare
}'
