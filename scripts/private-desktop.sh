# Sourced by the measurement scripts: starts a private X server (Xvfb) and session bus
# in "$dir", exports DISPLAY and DBUS_SESSION_BUS_ADDRESS, and adds both to "pids" for
# the caller's cleanup trap.
start_private_desktop() {
  Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x800x24 3>"$dir/display" 2>/dev/null &
  pids+=("$!")
  for _ in $(seq 100); do [ -s "$dir/display" ] && break; sleep 0.05; done
  export DISPLAY=:$(cat "$dir/display")
  dbus-daemon --session --nofork --nopidfile --address="unix:path=$dir/bus" 2>/dev/null &
  pids+=("$!")
  for _ in $(seq 100); do [ -S "$dir/bus" ] && break; sleep 0.05; done
  export DBUS_SESSION_BUS_ADDRESS=unix:path=$dir/bus
}
