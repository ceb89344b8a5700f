"""docs/architecture.md names every module and every test file (it had fallen behind once)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("montage_core", "montage_client", "montage_receiver", "montage_cloud")


def test_every_module_is_named() -> None:
    doc = (ROOT / "docs/architecture.md").read_text()
    missing = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py") and path.name not in doc
    ]
    assert missing == []


def test_every_test_file_is_named() -> None:
    doc = (ROOT / "docs/architecture.md").read_text()
    missing = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        if path.name not in doc
    ]
    assert missing == []
