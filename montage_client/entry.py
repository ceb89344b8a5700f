"""The `montage-client` command (pyproject's entry point)."""

from collections.abc import Callable

from montage_core.entry import run


def _load_main() -> Callable[[], int]:
    from montage_client.cli import main

    return main


def main() -> None:
    run("montage-client", "client", _load_main)
