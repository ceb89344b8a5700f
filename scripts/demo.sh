#!/usr/bin/env bash
# Sets everything up, then runs the main job: a receiver and a client sharing
# this screen to it for a few seconds. With no display, it starts Xvfb with
# the test workload on it and prints what the receiver received.
#   ./scripts/demo.sh [--seconds S] [--scene video|slides|scroll|static] [--xvfb] [--gui]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m scripts.demo "$@"
