"""Start a Montage program; when its extra was not installed, say so in one sentence.

`pip install montage` alone installs the code but none of the libraries (see
pyproject.toml): each program needs its extra. Without it, the person would
see a traceback ending in `ModuleNotFoundError: No module named 'PySide6'`.
Nothing is checked on the happy path, so starting costs nothing more.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from importlib import metadata

DISTRIBUTION = "montage"


def run(program: str, extra: str, load_main: Callable[[], Callable[[], int]]) -> None:
    """Exit with `load_main()()`'s code, or with a sentence naming what is missing."""
    try:
        main = load_main()
        code = main()
    except ModuleNotFoundError as exc:
        missing = missing_distributions(extra)
        if not missing or (exc.name or "").startswith("montage"):
            raise
        sys.exit(
            f"{program}: this installation lacks {', '.join(missing)}, which {program} needs. "
            f"Install it with: pip install 'montage[{extra}]'"
        )
    sys.exit(code)


def missing_distributions(extra: str) -> list[str]:
    """What `montage[extra]` asks for that is not installed (following montage[...] extras)."""
    missing: list[str] = []
    for name in sorted(set(_requirements(extra, set()))):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _requirements(extra: str, seen: set[str]) -> list[str]:
    if extra in seen:
        return []
    seen.add(extra)
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return []
    names: list[str] = []
    marker = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
    for line in lines:
        requirement, _, condition = line.partition(";")
        wanted = marker.search(condition)
        if wanted is None or wanted.group(1) != extra:
            continue
        name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
        if name is None:
            continue
        inner = re.search(r"\[([^\]]+)\]", requirement)
        if name.group(0) == DISTRIBUTION and inner:
            for sub in inner.group(1).split(","):
                names += _requirements(sub.strip(), seen)
        else:
            names.append(name.group(0))
    return names
