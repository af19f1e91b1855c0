#!/usr/bin/env bash
# Renders the tray icons in icons/ from their sources in icons/src/: one PNG per state
# and panel (dark glyphs for light panels, light glyphs for dark ones). The PNGs are
# committed; run this after changing a source. Needs rsvg-convert (librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/../icons"
command -v rsvg-convert >/dev/null || {
    echo "icons.sh: installing librsvg2-bin for rsvg-convert"
    apt-get install -y -q librsvg2-bin >/dev/null
}
for source in src/tray-*.svg; do
    state=$(basename "$source" .svg)
    for panel in light:#2b2b2b dark:#f2f2f2; do
        name=${panel%%:*}
        colour=${panel#*:}
        sed "s/currentColor/$colour/g" "$source" | rsvg-convert --width 64 --height 64 >"$state-$name-panel.png"
        echo "icons/$state-$name-panel.png"
    done
done
