#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite (lint, types, tests).
# Tests start what they need themselves (Xvfb displays, receivers, clients).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
