"""Shared test setup."""

import os

# Widgets are tested without a display; must be set before Qt starts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Fixtures shared by several modules (each module opts in with usefixtures).
pytest_plugins = ["tests.memory_keyring", "tests.frozen_build"]
