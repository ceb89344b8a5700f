#!/usr/bin/env bash
# Builds the frozen client and receiver with PyInstaller (pyinstaller.spec) into dist/:
#   dist/montage-client/montage-client       the window (windowed executable)
#   dist/montage-client/montage-client-cli   join / devices / enrol / netcheck (console)
#   dist/montage-receiver/montage-receiver
# The last line printed is JSON: the three paths and each folder's size in MB.
# Reuses the work files in build/ when nothing changed (PyInstaller's own cache).
# Sets up the virtualenv first, like the other scripts (the `build` extra is part of `dev`);
# with PYTHON set (the hosted Windows/macOS workflow) it uses that Python as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  ./scripts/setup.sh
  PYTHON=.venv/bin/python
fi
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller pyinstaller.spec >&2
exec "$PYTHON" -m installer.build_report dist
