#!/usr/bin/env bash
# Soak: the resident is killed with SIGKILL at random moments while pushes come in, and
# started again; at the end, every push that was acknowledged (its `deepwork push` exited
# 0) must be stored exactly once: none lost, none twice. Each round starts
# `deepwork daemon --headless` (in private files under a temporary directory: config,
# data, socket, XDG dirs, no session bus), lets $PUSHERS concurrent pushers push for a
# random 0.05-1.5 s, kills the daemon (-9), and checks that the restarted one resumes the
# deep work session started in the first round (`deepwork start --for 8h`). The
# database is read with sqlite3 when it is installed, else through `deepwork checkin` and
# `deepwork digest --json` (with jq).
#
# A connected platform: the reference plugin (examples/plugins/inbox.py), whose status
# lives in a file. Every 25th round, and at the end, the session is stopped: its focus
# status must have been shown, and the status from before ("lunch at 1") must be put
# back within 15 s, whatever kills came between; then a new session starts.
#
# Usage: scripts/soak.sh [ROUNDS]   (default 1000; `make soak ROUNDS=50`)
#        PUSHERS=3 (2-3 by the issue), CARGO=cargo, SOAK_KEEP=1 keeps the files and logs,
#        SOAK_VIA_DIGEST=1 reads through the CLI even when sqlite3 is installed
set -euo pipefail
rounds=${1:-1000}
pushers=${PUSHERS:-3}
cd "$(dirname "$0")/.."

echo "soak: building the release binary"
${CARGO:-cargo} build --release -q -p deepwork-cli
bin=$PWD/target/release/deepwork

dir=$(mktemp -d)
daemon=
workers=()
cleanup() {
  touch "$dir/stop"
  [ "${#workers[@]}" -gt 0 ] && kill "${workers[@]}" 2>/dev/null
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null
  wait 2>/dev/null
  if [ -n "${SOAK_KEEP:-}" ]; then
    echo "soak: files kept in $dir"
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT

mkdir -m 700 -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run" "$dir/run"
export XDG_CONFIG_HOME=$dir/xdg/config XDG_DATA_HOME=$dir/xdg/data XDG_RUNTIME_DIR=$dir/xdg/run
export DEEPWORK_CONFIG=$dir/config.toml DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/run/engine.sock
# Nothing reaches the desktop: no session bus, no notifications, no held notifications.
export DBUS_SESSION_BUS_ADDRESS=unix:path=$dir/no-bus
unset DISPLAY WAYLAND_DISPLAY
printf '[notifications]\nenabled = false\n\n[hold_notifications]\nenabled = false\n' >"$DEEPWORK_CONFIG"
mkdir -p "$dir/inbox"
echo '{"text": "lunch at 1", "until": null}' >"$dir/inbox/status.json"
cat >>"$DEEPWORK_CONFIG" <<EOF

[[adapters.plugins]]
name = "inbox"
command = ["python3", "$PWD/examples/plugins/inbox.py", "$dir/inbox"]
EOF
db=$DEEPWORK_DATA_DIR/deepwork.sqlite3

# The plugin platform's status text now.
status_text() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("text") or "")' \
    "$dir/inbox/status.json" 2>/dev/null || true
}

# Waits up to 15 s for the platform's status to start with $1.
wait_status() {
  for _ in $(seq 600); do
    case "$(status_text)" in "$1"*) return 0 ;; esac
    sleep 0.025
  done
  return 1
}

shown=0
not_shown=0
restored=0
not_restored=0
# Ends the session (the daemon is running): its focus status must have been shown, and
# the status from before must come back. With "again", a new session starts.
cycle_session() {
  if wait_status "Deep work"; then
    shown=$((shown + 1))
  else
    not_shown=$((not_shown + 1))
    echo "soak: round ${round:-0}: the focus status was never shown ($(status_text))" >&2
  fi
  "$bin" stop >/dev/null
  if wait_status "lunch at 1"; then
    restored=$((restored + 1))
  else
    not_restored=$((not_restored + 1))
    echo "soak: round ${round:-0}: the status was not put back ($(status_text))" >&2
  fi
  if [ "${1:-}" = again ]; then
    "$bin" start --for 8h >/dev/null
    session=$(session_id)
  fi
}

now_ms() { date +%s%3N; }

# Starts the daemon (its pid in $daemon) and waits until it answers; $took is how long
# that took, in ms.
start_daemon() {
  local started
  started=$(now_ms)
  "$bin" daemon --headless >>"$dir/daemon.log" 2>&1 &
  daemon=$!
  for _ in $(seq 400); do
    if "$bin" status --json >/dev/null 2>&1; then
      took=$(($(now_ms) - started))
      return 0
    fi
    if ! kill -0 "$daemon" 2>/dev/null; then
      echo "soak: the daemon exited at start; its log:" >&2
      tail -20 "$dir/daemon.log" >&2
      return 1
    fi
    sleep 0.025
  done
  echo "soak: the daemon did not answer within 10 s" >&2
  return 1
}

# pusher ROUND P: pushes "item ROUND-P-K" for K = 1, 2, … until the stop file appears,
# recording each title whose push was acknowledged.
pusher() {
  local round=$1 p=$2 k=0
  while [ ! -e "$dir/stop" ]; do
    k=$((k + 1))
    local title="item $round-$p-$k"
    if "$bin" push --source soak --from "pusher$p" --title "$title" >/dev/null 2>>"$dir/push.err"; then
      echo "$title" >>"$dir/acked"
    else
      echo "$title" >>"$dir/refused"
      sleep 0.01
    fi
  done
}

# The running session's id, from `deepwork status --json` (empty when none runs).
session_id() {
  "$bin" status --json | awk '/"session": \{/ { inside = 1; next } inside && /"id":/ { gsub(/[^0-9]/, ""); print; exit }'
}

restart_ms=0
: >"$dir/acked"
: >"$dir/refused"
start_daemon
first=$took
"$bin" start --for 8h >/dev/null
session=$(session_id)
[ -n "$session" ] || { echo "soak: no session started" >&2; exit 1; }
lost_session=0
echo "soak: $rounds rounds, $pushers pushers, session $session, files in $dir"

for round in $(seq "$rounds"); do
  if ((round % 25 == 0)); then
    cycle_session again
  fi
  rm -f "$dir/stop"
  workers=()
  for p in $(seq "$pushers"); do
    pusher "$round" "$p" &
    workers+=($!)
  done
  # A random moment: 50 to 1500 ms into the round.
  sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
  sleep "$(printf '0.%03d' $((50 + RANDOM % 500)))"
  kill -9 "$daemon"
  wait "$daemon" 2>/dev/null || true
  touch "$dir/stop"
  wait "${workers[@]}"
  workers=()
  start_daemon
  restart_ms=$((restart_ms + took))
  now=$(session_id)
  if [ "$now" != "$session" ]; then
    lost_session=$((lost_session + 1))
    echo "soak: round $round: the session is ${now:-gone} after the restart, not $session" >&2
    if [ -z "$now" ]; then
      "$bin" start --for 8h >/dev/null
      session=$(session_id)
    else
      session=$now
    fi
  fi
  if ((round % 50 == 0)); then
    echo "soak: round $round, $(wc -l <"$dir/acked") pushes acknowledged"
  fi
done

cycle_session

# The stored titles, one line per stored item.
if command -v sqlite3 >/dev/null && [ -z "${SOAK_VIA_DIGEST:-}" ]; then
  kill "$daemon"
  wait "$daemon" 2>/dev/null || true
  daemon=
  sqlite3 "$db" "SELECT title FROM items WHERE source = 'soak';" >"$dir/stored"
  how="sqlite3 $db"
elif command -v jq >/dev/null; then
  "$bin" checkin >/dev/null
  "$bin" digest --json | jq -r '.groups[].items[] | select(.source == "soak") | .title' >"$dir/stored"
  how="deepwork checkin + digest --json"
else
  echo "soak: neither sqlite3 nor jq is installed to read what was stored" >&2
  exit 1
fi

sort "$dir/acked" >"$dir/acked.sorted"
sort "$dir/stored" >"$dir/stored.sorted"
acked=$(wc -l <"$dir/acked.sorted")
stored=$(wc -l <"$dir/stored.sorted")
lost=$(comm -23 "$dir/acked.sorted" <(sort -u "$dir/stored.sorted") | wc -l)
duplicated=$(uniq -d "$dir/stored.sorted" | wc -l)
unacked=$(comm -13 "$dir/acked.sorted" <(sort -u "$dir/stored.sorted") | wc -l)
refused=$(wc -l <"$dir/refused")
mean=$((restart_ms / rounds))

if ((lost > 0)); then
  echo "soak: acknowledged but not stored (first 10):" >&2
  comm -23 "$dir/acked.sorted" <(sort -u "$dir/stored.sorted") | head -10 >&2
fi
if ((duplicated > 0)); then
  echo "soak: stored more than once (first 10):" >&2
  uniq -d "$dir/stored.sorted" | head -10 >&2
fi
echo "soak: read with $how; first start ${first} ms"
echo "soak: rounds $rounds, pushers $pushers, items acknowledged $acked, stored $stored," \
  "lost $lost, duplicated $duplicated, stored unacknowledged $unacked, pushes refused $refused," \
  "session lost $lost_session, mean restart ${mean} ms"
echo "soak: platform status shown $shown of $((shown + not_shown)) sessions, put back" \
  "$restored of $((restored + not_restored))"
((lost == 0 && duplicated == 0 && lost_session == 0 && not_shown == 0 && not_restored == 0))
