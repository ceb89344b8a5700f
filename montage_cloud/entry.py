"""The `montage-cloud` command (pyproject's entry point)."""

from collections.abc import Callable

from montage_core.entry import run


def _load_main() -> Callable[[], int]:
    from montage_cloud.cli import main

    return main


def main() -> None:
    run("montage-cloud", "cloud", _load_main)
