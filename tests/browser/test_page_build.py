"""The page's script that montage_cloud ships is the one web/src/ builds to.

`montage_cloud/web/static/join.js` is committed (so the wheel carries it and
the cloud needs no Node.js); it must never drift from its sources or from the
libraries pinned in web/package-lock.json.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.browser.node_peer import ROOT, WEB, node_missing

SHIPPED = ROOT / "montage_cloud" / "web" / "static" / "join.js"


def test_the_shipped_script_is_a_fresh_build_of_web_src(tmp_path: Path) -> None:
    missing = node_missing()
    assert missing is None, missing  # setup.sh installs Node.js and web/node_modules
    fresh = tmp_path / "join.js"
    subprocess.run(["node", "build.mjs", "--outfile", str(fresh)], cwd=WEB, check=True, timeout=60)
    assert fresh.read_bytes() == SHIPPED.read_bytes(), (
        "montage_cloud/web/static/join.js is stale: run `npm run build` in web/ and commit it"
    )


def test_the_script_loads_nothing_from_elsewhere() -> None:
    script = SHIPPED.read_text(encoding="utf-8")
    # One file: no module left for the browser to fetch, no CDN, and no
    # connection but the WebSocket to the page's own origin.
    assert "import(" not in script and "\nimport " not in script
    for call in ("fetch(", "XMLHttpRequest", "importScripts", "new EventSource"):
        assert call not in script, call
    assert script.count("new WebSocket(") == 1
