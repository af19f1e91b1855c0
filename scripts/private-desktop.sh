# Sourced by the measurement scripts. start_private_desktop starts a private X server
# (Xvfb) and session bus in "$dir", exports DISPLAY and DBUS_SESSION_BUS_ADDRESS, and
# adds both to "pids" for the caller's cleanup trap. build_with_yardstick builds the
# release programs and the bare Tauri yardstick, and sets "bin" and "yardstick".
start_private_desktop() {
  Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x800x24 3>"$dir/display" 2>/dev/null &
  pids+=("$!")
  for _ in $(seq 100); do [ -s "$dir/display" ] && break; sleep 0.05; done
  if [ ! -s "$dir/display" ]; then
    echo "no private display: Xvfb did not start (is the xvfb package installed?)" >&2
    exit 1
  fi
  export DISPLAY=:$(cat "$dir/display")
  dbus-daemon --session --nofork --nopidfile --address="unix:path=$dir/bus" 2>/dev/null &
  pids+=("$!")
  for _ in $(seq 100); do [ -S "$dir/bus" ] && break; sleep 0.05; done
  export DBUS_SESSION_BUS_ADDRESS=unix:path=$dir/bus
}

build_with_yardstick() {
  echo "$1: building (release): deepwork, deepwork-app, the yardstick" >&2
  make -s ui
  cargo build --release -q -p deepwork-cli -p deepwork-app
  CARGO_TARGET_DIR=$PWD/target/yardstick cargo build --release -q --manifest-path benches/yardstick-tauri/Cargo.toml
  bin=$PWD/target/release
  yardstick=$PWD/target/yardstick/release/yardstick-tauri
}
