#!/usr/bin/env bash
# Builds the frozen client and receiver with PyInstaller (pyinstaller.spec) into dist/:
#   dist/montage-client/montage-client       the window (windowed executable)
#   dist/montage-client/montage-client-cli   join / devices / enrol / netcheck / update (console)
#   dist/montage-receiver/montage-receiver
#
#   ./scripts/build.sh [--version 0.2.0] [--dist DIR]
# --version (or $MONTAGE_VERSION) is the version the build reports and is released as;
# without it, __version__ from montage_core/__init__.py. It is stamped into each
# folder as montage-release.json (montage_core/version.py). --dist: another folder
# than dist/ (a second version beside the first).
#
# The last line printed is JSON: the three paths and each folder's size in MB.
# Reuses the work files in build/ when nothing changed (PyInstaller's own cache;
# a different --version changes nothing PyInstaller analyses on Linux).
# Sets up the virtualenv first, like the other scripts (the `build` extra is part of `dev`);
# with PYTHON set (the hosted Windows/macOS workflow) it uses that Python as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --version) MONTAGE_VERSION=${2:?--version needs a version such as 0.2.0}; shift 2 ;;
    --dist) dist=${2:?--dist needs a folder}; shift 2 ;;
    *) echo "build.sh: unknown option $1 (use --version V, --dist DIR)" >&2; exit 2 ;;
  esac
done
if [ -n "${MONTAGE_VERSION:-}" ]; then
  # Three numbers without leading zeros, as the updater compares them (montage_core/updates).
  if ! [[ $MONTAGE_VERSION =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]]; then
    echo "build.sh: '$MONTAGE_VERSION' is not a version such as 0.2.0" >&2
    exit 2
  fi
  export MONTAGE_VERSION
fi
if [ -z "${PYTHON:-}" ]; then
  ./scripts/setup.sh
  PYTHON=.venv/bin/python
fi
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$dist" --workpath build/pyinstaller pyinstaller.spec >&2
exec "$PYTHON" -m installer.build_report "$dist"
