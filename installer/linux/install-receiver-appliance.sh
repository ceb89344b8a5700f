#!/bin/sh
# Turns a Debian or Ubuntu machine into a Montage receiver appliance (run as root):
#   tar xf Montage-Receiver-<version>-linux-x86_64.tar.xz
#   sudo ./montage-receiver/install-receiver-appliance.sh [PREFIX]
# Installs the receiver into PREFIX (default /opt/montage-receiver), Xorg and
# xinit, a user `montage` to run it, and the systemd unit that shows it full
# screen on tty1 from boot (deploy/receiver-appliance/montage-receiver.service).
# The tarball's folder is an installation that updates itself (current,
# versions/<v>/, the launcher, update/: docs/updates.md); it belongs to
# `montage`, so that the receiver can install an update (online, or from a USB
# drive) and restart into it. The unit starts the launcher.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-/opt/montage-receiver}
if [ "$(id -u)" -ne 0 ]; then echo "run as root (sudo $0)" >&2; exit 1; fi
if command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    xserver-xorg xinit libgl1 libegl1 libfontconfig1 libxkbcommon-x11-0 libxcb-cursor0 \
    libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 fonts-dejavu-core
fi
id montage >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/montage \
  --groups video,audio,input,render --shell /usr/sbin/nologin montage 2>/dev/null \
  || useradd --system --create-home --home-dir /var/lib/montage --shell /usr/sbin/nologin montage
if [ "$here" != "$prefix" ]; then
  rm -rf "$prefix.new" && mkdir -p "$(dirname "$prefix")" && cp -a "$here" "$prefix.new"
  rm -rf "$prefix" && mv "$prefix.new" "$prefix"
fi
chown -R montage: "$prefix"
sed "s|@PREFIX@|$prefix|g" "$here/montage-receiver.service" > /etc/systemd/system/montage-receiver.service
[ -f /etc/default/montage-receiver ] || cat > /etc/default/montage-receiver <<'CONF'
# Arguments for montage-receiver (see montage-receiver --help), e.g.
# MONTAGE_RECEIVER_ARGS="--name 'Room 4.12' --port 443"
MONTAGE_RECEIVER_ARGS=
CONF
systemctl daemon-reload
systemctl set-default graphical.target
systemctl enable --now montage-receiver.service
echo "Montage receiver installed in $prefix and started on tty1."
