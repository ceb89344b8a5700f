"""Run a Node.js module of the browser client as a JSON-lines peer (web/tests/*.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def node_missing() -> str | None:
    """Why the browser's modules cannot run here, or None (setup.sh installs both)."""
    if shutil.which("node") is None:
        return "Node.js is not installed (scripts/setup.sh installs it)"
    if not (WEB / "node_modules" / "@noble" / "curves").is_dir():
        return "web/node_modules is missing (scripts/setup.sh runs npm ci)"
    return None


class NodePeer:
    """One long-lived `node web/tests/<script>`; `ask` sends a request, returns the answer."""

    def __init__(self, script: str) -> None:
        self.process = subprocess.Popen(
            ["node", str(WEB / "tests" / script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=WEB,
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the Node.js peer exited ({self.process.poll()})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
