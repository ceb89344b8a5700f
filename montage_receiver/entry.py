"""The `montage-receiver` command (pyproject's entry point)."""

from collections.abc import Callable

from montage_core.entry import run


def _load_main() -> Callable[[], int]:
    from montage_receiver.cli import main

    return main


def main() -> None:
    run("montage-receiver", "receiver", _load_main)
