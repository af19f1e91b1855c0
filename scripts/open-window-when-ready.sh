#!/usr/bin/env bash
# Opens the window once the resident listens (used by `make run`); without a display,
# says how to use the CLI instead.
set -euo pipefail
app=$1
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display, so no window; the CLI works against the resident."
  exit 0
fi
for _ in $(seq 100); do
  "$(dirname "$app")/deepwork" status >/dev/null 2>&1 && exec "$app"
  sleep 0.1
done
echo "run: the resident did not start; no window opened" >&2
