"""An update through the real squid of the proxy tests (tests/proxy_servers.py).

`montage-cloud dev` runs in a network namespace on that namespace's loopback:
this test process reaches it through squid or not at all. The installed
client updates through the proxy it is given, with the password from the
environment; a wrong password is squid's refusal, in words, with its own
exit code; no proxy at all is no network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from montage_cloud.releases.repository import ReleaseRepository
from montage_core.net.settings import PASSWORD_ENV
from montage_core.updates.errors import NoNetwork, ProxyRefusedUpdate
from tests import netns
from tests import proxy_servers as servers
from tests.update_rig import Repo, archives, install, installed_version, run

REASON = netns.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

CLIENT = "montage-client"


def test_an_installed_client_updates_through_squid(tmp_path: Path) -> None:
    built = archives(tmp_path / "dist", CLIENT, "0.1.0", "0.2.0")
    with contextlib.ExitStack() as stack:
        ns, workdir, password = stack.enter_context(servers.proxy_host("up"))
        dev_dir = servers.private_dir("montage-update-proxy-cloud-")
        stack.callback(shutil.rmtree, dev_dir, ignore_errors=True)
        cloud = stack.enter_context(servers.dev_cloud(ns, dev_dir))
        squid_log = stack.enter_context(servers.squid(ns, workdir, password, cloud.ports))
        repo = Repo(
            ReleaseRepository(Path(cloud.updates["repo"])),
            Path(cloud.updates["keys"]),
            cloud.updates["url"],
            str(cloud.ca),
        )
        repo.repository.add_release(
            built["0.2.0"], app=CLIENT, platform="source", version="0.2.0", notes="", keys=repo.keys
        )
        root = install(tmp_path / "montage", CLIENT, built["0.1.0"], repo)
        squid = f"http://{servers.USER}@{ns.peer}:{servers.SQUID_PORT}"

        direct = run(root, CLIENT, "update", "--check", "--proxy", "none")
        assert direct.returncode == NoNetwork.exit_code, direct.stderr

        wrong = run(
            root,
            CLIENT,
            *("update", "--install", "--proxy", squid),
            env={**os.environ, PASSWORD_ENV: "not-the-password"},
        )
        assert wrong.returncode == ProxyRefusedUpdate.exit_code, wrong.stderr
        last = wrong.stderr.strip().splitlines()[-1]
        assert f"HTTP proxy {ns.peer}:{servers.SQUID_PORT}" in last, last
        assert last.endswith("The update was not downloaded; Montage 0.1.0 stays installed.")
        assert installed_version(root, CLIENT) == f"{CLIENT} 0.1.0"

        update = run(
            root,
            CLIENT,
            *("update", "--install", "--proxy", squid),
            env={**os.environ, PASSWORD_ENV: password},
        )
        assert update.returncode == 0, update.stderr
        assert update.stdout.strip() == f"{CLIENT} 0.2.0"
        api_port = cloud.api_url.rsplit(":", 1)[1]
        servers.wait_for_line(squid_log, "CONNECT", f"127.0.0.1:{api_port}")
    assert installed_version(root, CLIENT) == f"{CLIENT} 0.2.0"
