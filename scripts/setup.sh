#!/usr/bin/env bash
# Installs what Montage needs on a fresh Debian machine (root, Python 3.11+):
# the X and Qt libraries (Xvfb for headless runs), then the virtualenv, then
# the browser client's front-end packages (web/, pinned by its npm lock file).
# Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  xvfb xauth xdotool               # a virtual display (and its keyboard) for headless runs and tests
  libgl1 libegl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0   # Qt's xcb platform
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-shm0 libxcb-xfixes0
  fonts-dejavu-core                # readable text on the receiver without a desktop
  ffmpeg                           # the benchmark's reference pipeline
  prosody coturn postgresql        # the cloud's XMPP, TURN and database servers (tests start them)
  nftables iproute2                # blocking UDP between test network namespaces
  squid dante-server apache2-utils openssl   # real HTTP and SOCKS5 proxies for the proxy tests
  tesseract-ocr                    # reads the words in screenshots (the client's update banner test)
  binutils                         # PyInstaller's ELF tools and strip (./scripts/build.sh)
  nsis                             # makensis: the Windows installer script compiles here too
  xinit systemd                    # the receiver appliance's unit, checked by systemd-analyze
  chromium libnss3-tools           # the browser client's tests: a real Chromium, and certutil to trust the test CA
)
# Node.js and npm build the browser client's page and run its cross-language
# tests; install Debian's only if there is none (NodeSource's bundles npm).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "setup: installing ${missing[*]}" >&2
  # Wait for another apt run (a second checkout setting up) instead of failing.
  lock=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${lock[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: Montage needs Python 3.11 or newer ($PYTHON is $("$PYTHON" -V))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.montage-installed
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  echo "setup: installing Python packages into .venv" >&2
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "setup: pip install failed (full log: $log)" >&2; exit 1
  fi
  cp pyproject.toml "$stamp"
fi

# The browser client's front end: exactly the versions in web/package-lock.json.
node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' || {
  echo "setup: the browser client needs Node.js 20 or newer (this is $(node --version))" >&2; exit 1; }
web_stamp=web/node_modules/.montage-installed
if [ ! -f "$web_stamp" ] || ! cmp -s web/package-lock.json "$web_stamp"; then
  echo "setup: installing the browser client's packages into web/node_modules" >&2
  log=.venv/npm-ci.log
  if ! (cd web && npm ci --no-audit --no-fund) >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "setup: npm ci failed (full log: $log)" >&2; exit 1
  fi
  cp web/package-lock.json "$web_stamp"
fi
