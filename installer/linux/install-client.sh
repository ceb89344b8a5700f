#!/bin/sh
# Installs the Montage client for the person running it (no root needed):
#   tar xf Montage-<version>-linux-x86_64.tar.xz && ./montage-client/install-client.sh
# puts the installation in ~/.local/opt/montage-client, `montage-client` (the window)
# and `montage-client-cli` in ~/.local/bin, and Montage in the desktop's menu.
# The tarball's folder is already laid out as an installation that updates itself
# (current, versions/<v>/, the launchers, update/: docs/updates.md); the links and
# the menu entry start its launchers, so they keep working after an update.
# Installing again replaces the installation (and what it had updated to).
#   ./install-client.sh --uninstall    removes all three again
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$HOME/.local/opt/montage-client"
bin="$HOME/.local/bin"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$bin/montage-client" "$bin/montage-client-cli" "$apps/montage.desktop"
  rm -rf "$dest"
  echo "Montage removed."
  exit 0
fi
if [ "$here" != "$dest" ]; then
  rm -rf "$dest.new" && mkdir -p "$(dirname "$dest")" && cp -a "$here" "$dest.new"
  rm -rf "$dest" && mv "$dest.new" "$dest"
fi
mkdir -p "$bin" "$apps"
ln -sf "$dest/montage-client" "$bin/montage-client"
ln -sf "$dest/montage-client-cli" "$bin/montage-client-cli"
sed "s|@PREFIX@|$dest|g" "$dest/montage.desktop" > "$apps/montage.desktop"
echo "Montage installed: open it from the menu, or run montage-client."
case ":$PATH:" in *":$bin:"*) ;; *) echo "(Add $bin to PATH to run it by name.)" ;; esac
