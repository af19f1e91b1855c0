#!/usr/bin/env bash
# Measures what plans cost an idle resident: the headless release daemon with work
# hours, three focus blocks a day and an ICS calendar served over loopback HTTP, left
# alone for SECONDS. Reports its wakeups (voluntary context switches, all threads alive
# at both ends) and the requests the calendar server saw (one at start, then one every
# 15 minutes). Usage: scripts/measure-plans.sh [SECONDS]   (default 60)
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."

echo "measure-plans: building the release binary"
cargo build --release -q -p deepwork-cli
bin=$PWD/target/release/deepwork

dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT

# A calendar of 500 meetings around now, with an ETag (python's http.server sends
# Last-Modified and answers If-Modified-Since with 304).
mkdir -p "$dir/www"
python3 - "$dir/www/team.ics" <<'PY'
import sys, datetime
now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//measure//EN"]
for n in range(500):
    start = now + datetime.timedelta(hours=3 * n - 24)
    stamp = lambda t: t.strftime("%Y%m%dT%H%M%SZ")
    lines += ["BEGIN:VEVENT", f"UID:m{n}", "DTSTAMP:20260101T000000Z", f"DTSTART:{stamp(start)}",
              "DURATION:PT30M", f"SUMMARY:{'Focus' if n % 5 == 0 else 'Meeting'} {n}", "END:VEVENT"]
lines.append("END:VCALENDAR")
open(sys.argv[1], "w").write("\r\n".join(lines) + "\r\n")
PY
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$dir/www" && exec python3 -m http.server "$port" --bind 127.0.0.1) 2>"$dir/http.log" &
pids+=("$!")
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.05
done

export DEEPWORK_CONFIG=$dir/config.toml DEEPWORK_DATA_DIR=$dir/data DEEPWORK_SOCKET=$dir/engine.sock
cat >"$DEEPWORK_CONFIG" <<TOML
[notifications]
enabled = false
[plans]
work_hours = ["mon-fri 09:00-17:30"]
[[plans.blocks]]
days = "mon-fri"
from = "09:00"
until = "11:30"
[[plans.blocks]]
days = "mon,wed,fri"
from = "13:00"
until = "15:00"
[[plans.blocks]]
days = "tue,thu"
from = "14:00"
until = "16:30"
[[plans.calendars]]
url = "http://127.0.0.1:$port/team.ics"
TOML
"$bin" daemon --headless 2>"$dir/daemon.log" &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do [ -S "$DEEPWORK_SOCKET" ] && break; sleep 0.05; done
sleep 3
switches() {
  for task in /proc/"$pid"/task/*; do
    echo "${task##*/} $(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$task/status" 2>/dev/null || echo 0)"
  done
}
requests() { grep -c '"GET /team.ics' "$dir/http.log" || true; }
before=$(switches)
requests_before=$(requests)
sleep "$seconds"
after=$(switches)
woke=$(awk 'NR == FNR { start[$1] = $2; next } ($1 in start) { sum += $2 - start[$1] } END { print sum + 0 }' \
  <(echo "$before") <(echo "$after"))
echo "measure-plans: calendar requests at start: $requests_before"
echo "measure-plans: over ${seconds}s: voluntary context switches $woke, calendar requests $(( $(requests) - requests_before ))"
"$bin" status
"$bin" plan --days 2
