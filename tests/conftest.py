"""Shared test setup."""

import os
from collections.abc import Iterator

import pytest

# Widgets are tested without a display; must be set before Qt starts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Fixtures shared by several modules (each module opts in with usefixtures).
pytest_plugins = ["tests.memory_keyring", "tests.frozen_build"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (root, every package installed) a skipped test is a hidden failure: fail it."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"
