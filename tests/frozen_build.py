"""The frozen programs, built once per test run by the real build command.

`frozen_build` runs `./scripts/build.sh` the first time a test asks for it
(PyInstaller then reuses its work files in build/ for an unchanged tree) and
hands out the paths its last line names. Every test that needs the frozen
client or receiver, or the Linux payload an installer wraps, shares that one
build. `build()` makes another (tests/test_frozen_updates.py: the same tree
as 0.2.0, which reuses that build's work and takes seconds).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FrozenBuild:
    client: Path  # the console executable: join, devices, enrol, netcheck
    client_gui: Path  # the windowed executable
    receiver: Path
    client_mb: float
    receiver_mb: float
    version: str  # the build's stamp
    platform: str
    seconds: float  # how long build.sh took in this run

    @property
    def client_dir(self) -> Path:
        return self.client_gui.parent

    @property
    def receiver_dir(self) -> Path:
        return self.receiver.parent


def build(*args: str, env: dict[str, str] | None = None) -> FrozenBuild:
    """Run ./scripts/build.sh with `args`; what its last line says it built."""
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "scripts" / "build.sh"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        pytest.fail(f"./scripts/build.sh failed ({done.returncode}):\n{done.stderr[-4000:]}")
    last = done.stdout.strip().splitlines()[-1]
    built = json.loads(last)
    return FrozenBuild(
        client=Path(built["client"]),
        client_gui=Path(built["client_gui"]),
        receiver=Path(built["receiver"]),
        client_mb=built["client_mb"],
        receiver_mb=built["receiver_mb"],
        version=built["version"],
        platform=built["platform"],
        seconds=time.monotonic() - started,
    )


@pytest.fixture(scope="session")
def frozen_build() -> FrozenBuild:
    return build()
