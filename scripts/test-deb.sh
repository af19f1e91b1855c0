#!/usr/bin/env bash
# The .deb (`make deb`) installed with dpkg -i into a clean Debian 12 (a debootstrap
# minbase, its dependencies then through apt), and run there: every library the programs
# need is present, the CLI answers, the resident starts (headless) and holds a session,
# and the menu entry, autostart entry, icon and metainfo are where desktops look.
# Root only (debootstrap, chroot). The base system is kept in target/deb-base and copied
# afresh for each run. Usage: scripts/test-deb.sh PACKAGE.deb
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  exec sudo "$0" "$@"
fi
deb=$1
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=target/deb-base
root=target/deb-root

if [ ! -x "$base/usr/bin/apt-get" ]; then
  echo "test-deb: a Debian 12 base system into $base (debootstrap, once)"
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base" "$mirror" >"$base.log" 2>&1 || {
    tail -20 "$base.log" >&2
    exit 1
  }
fi
echo "test-deb: a clean copy of it in $root"
rm -rf "$root"
cp -a "$base" "$root"
cleanup() { umount "$root/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$root/proc"
cp "$deb" "$root/tmp/deepwork.deb"
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}

echo "test-deb: dpkg -i, then its dependencies through apt"
in_root apt-get update -qq
in_root dpkg -i /tmp/deepwork.deb >/dev/null 2>&1 || true
in_root apt-get install -f -y -qq --no-install-recommends >/dev/null
in_root dpkg-query -W -f='${Status} ${Version}\n' deepwork | grep -q "install ok installed 0.1.0-1"

echo "test-deb: every library found"
for program in deepwork deepwork-app; do
  if in_root ldd "/usr/bin/$program" | grep "not found"; then
    echo "test-deb: $program lacks libraries the package does not depend on" >&2
    exit 1
  fi
done

echo "test-deb: the desktop's files in place"
for file in usr/share/applications/org.deepwork.Deepwork.desktop \
  etc/xdg/autostart/org.deepwork.Deepwork.Resident.desktop \
  usr/share/icons/hicolor/512x512/apps/org.deepwork.Deepwork.png \
  usr/share/metainfo/org.deepwork.Deepwork.metainfo.xml \
  usr/share/doc/deepwork/copyright; do
  [ -f "$root/$file" ] || { echo "test-deb: /$file is missing" >&2; exit 1; }
done

echo "test-deb: the resident runs and holds a session"
cat >"$root/tmp/run.sh" <<'RUN'
set -eu
export HOME=/tmp/home DEEPWORK_SOCKET=/tmp/home/run/engine.sock
mkdir -p -m 700 "$HOME"
deepwork daemon --headless 2>/tmp/resident.log &
resident=$!
for _ in $(seq 100); do deepwork status >/dev/null 2>&1 && break; sleep 0.1; done
deepwork start --for 25m
deepwork push --source ci --from build-bot --title "Deploy failed on main" --urgency update
deepwork status | grep -q "1 held"
deepwork stop | grep -q "Deploy failed on main"
kill "$resident"
wait "$resident" || true
RUN
in_root sh /tmp/run.sh
echo "test-deb: installed and ran in a clean Debian 12"
