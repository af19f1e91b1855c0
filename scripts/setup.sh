#!/usr/bin/env bash
# Installs what building and running (`setup.sh run`, for `make run`) or also testing
# (`setup.sh test`, for `make test`) Deepwork needs on Debian, idempotently: safe to run
# again, it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-test}
case "$MODE" in
  run | test) ;;
  *)
    echo "setup: usage: setup.sh [run|test]" >&2
    exit 2
    ;;
esac

APT_PACKAGES=(
  # build
  build-essential pkg-config libssl-dev
  # the Tauri window (the resident's tray and hotkey need none of these)
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev libgl1-mesa-dri
)
TEST_PACKAGES=(
  # tests: a private session bus, a display, desktop notifications, the tray's menu
  # driven with busctl (systemd) and the hotkey pressed with xdotool
  dbus xvfb xauth libnotify-bin tzdata python3-venv gnome-keyring systemd xdotool jq
  # other apps' notifications held: dunst as the daemon; GNOME's setting through gsettings
  # on dconf
  dunst libglib2.0-bin dconf-gsettings-backend dconf-service gsettings-desktop-schemas
  # the XMPP tests: a real Prosody, with a test certificate made by openssl
  prosody openssl
  # the window's end-to-end test: WebKitWebDriver, which tauri-driver drives; and
  # desktop-file-validate for the menu and autostart entries
  webkit2gtk-driver desktop-file-utils
  # the .deb: checked with lintian and appstreamcli, installed into a debootstrap chroot
  lintian appstream debootstrap
)
[ "$MODE" = run ] || APT_PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust with rustup (https://rustup.rs) and run this again" >&2
  exit 1
fi

# The window's web side: Node.js 20.19 or newer (Vite 8), its packages from package-lock.json.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
  echo "setup: Node.js 20.19 or newer is needed for the window (ui/); found: $(node --version 2>/dev/null || echo none)" >&2
  exit 1
fi
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing the window's npm packages (npm ci in ui/)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "setup: npm packages present"
fi


# Running needs nothing more; the rest is for the tests.
[ "$MODE" = test ] || exit 0

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install --locked cargo-nextest
else
  echo "setup: cargo-nextest present"
fi

if ! cargo deb --version >/dev/null 2>&1; then
  echo "setup: installing cargo-deb (builds the .deb)"
  cargo install --locked cargo-deb
else
  echo "setup: cargo-deb present"
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver (WebDriver for the window's end-to-end test)"
  cargo install --locked tauri-driver
else
  echo "setup: tauri-driver present"
fi

# Real servers for the tests, each in a private virtualenv: Synapse (Matrix) and
# Radicale (CalDAV). The installed version is read from the package's metadata: inside a
# git checkout Synapse's own __version__ carries the checkout's branch and commit.
install_python_tool() {
  local dir=.tools/$1 package=$2 version=$3 purpose=$4
  if [ "$("$dir/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null)" != "$version" ]; then
    echo "setup: installing $package $version into $dir ($purpose)"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$package==$version"
  else
    echo "setup: $package $version present"
  fi
}
install_python_tool synapse matrix-synapse 1.163.2 "for the Matrix tests"
install_python_tool radicale radicale 3.9.0 "for the CalDAV tests"
