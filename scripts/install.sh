#!/usr/bin/env bash
# Installs Deepwork for the current user: the two binaries into ~/.local/bin, the app's
# menu entry and icon, and an autostart entry that starts the resident at login (XDG).
# Usage: scripts/install.sh [TARGET_DIR]   (default target/release; `make install` builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
built=${1:-target/release}
bin_dir=${XDG_BIN_HOME:-$HOME/.local/bin}
data_dir=${XDG_DATA_HOME:-$HOME/.local/share}
config_dir=${XDG_CONFIG_HOME:-$HOME/.config}

for program in deepwork deepwork-app; do
  [ -x "$built/$program" ] || { echo "install: $built/$program is missing; build it first (make install does)" >&2; exit 1; }
done
install -D -m 0755 "$built/deepwork" "$bin_dir/deepwork"
install -D -m 0755 "$built/deepwork-app" "$bin_dir/deepwork-app"
install -D -m 0644 src-tauri/icons/icon.png "$data_dir/icons/hicolor/512x512/apps/org.deepwork.Deepwork.png"
# Exec lines name the installed binaries, so menus and autostart work without PATH set up.
sed "s|^Exec=deepwork-app|Exec=$bin_dir/deepwork-app|" packaging/org.deepwork.Deepwork.desktop \
  | install -D -m 0644 /dev/stdin "$data_dir/applications/org.deepwork.Deepwork.desktop"
sed "s|^Exec=deepwork daemon|Exec=$bin_dir/deepwork daemon|" packaging/org.deepwork.Deepwork.Resident.desktop \
  | install -D -m 0644 /dev/stdin "$config_dir/autostart/org.deepwork.Deepwork.Resident.desktop"
echo "install: $bin_dir/deepwork and deepwork-app"
echo "install: menu entry $data_dir/applications/org.deepwork.Deepwork.desktop"
echo "install: autostart  $config_dir/autostart/org.deepwork.Deepwork.Resident.desktop (the tray starts at login)"
