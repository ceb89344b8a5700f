"""Signed updates end to end: an installed v0.1 against `montage-cloud dev`'s repository.

The cloud runs as a person starts it; releases are added with the
administrator's command; the installed program is started through its
launcher, as a shortcut would, and asked for its version afterwards. Every
attack is made on the served files themselves, and each refusal must come
with its sentence and exit code while the old version keeps running.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mss
import mss.tools
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner

from bench.xvfb import Xvfb, stop_process
from montage_cloud.releases.keys import RoleKey
from montage_cloud.releases.repository import ReleaseRepository
from montage_core.updates.errors import (
    BadSignature,
    ExpiredMetadata,
    HashMismatch,
    InstallFailed,
    NoNetwork,
    Rollback,
)
from tests.cutting_relay import cutting_relay
from tests.dev_cloud import dev_cloud as start_dev_cloud
from tests.ocr import read_words
from tests.screens import screenshot, until
from tests.update_rig import ROOT, Repo, archives, install, installed_version, run

CLIENT = "montage-client"
NOTES = "Sharing starts faster."


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return archives(tmp_path_factory.mktemp("dist"), CLIENT, "0.1.0", "0.1.5", "0.2.0")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]) -> Iterator[Repo]:
    """`montage-cloud dev` with 0.1.5 released, then 0.2.0 (the metadata offering only
    0.1.5 is kept aside, signed and valid, for the rollback test)."""
    with start_dev_cloud(tmp_path_factory.mktemp("cloud"), timeout=30) as (_, ready):
        updates = ready["updates"]
        served = Repo(
            ReleaseRepository(Path(updates["repo"])),
            Path(updates["keys"]),
            updates["url"],
            ready["ca_cert"],
        )
        for version, notes in (("0.1.5", "Fixes."), ("0.2.0", NOTES)):
            if version == "0.2.0":
                older = served.repository.path.with_name("offering-0.1.5")
                shutil.copytree(served.repository.metadata_dir, older)
            added = subprocess.run(
                [
                    *(sys.executable, "-m", "montage_cloud", "admin", "release", "add"),
                    *(str(built[version]), "--version", version, "--notes", notes),
                    *("--repo", updates["repo"], "--keys", updates["keys"]),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            assert added.returncode == 0, added.stderr
            assert f"Released {CLIENT} {version} (source)" in added.stderr
        yield served


@pytest.fixture
def installed(tmp_path: Path, built: dict[str, Path], repo: Repo) -> Path:
    return install(tmp_path / "montage", CLIENT, built["0.1.0"], repo)


def _still_0_1(root: Path) -> None:
    assert installed_version(root, CLIENT) == f"{CLIENT} 0.1.0"
    assert (root / "current").read_text().strip() == "0.1.0"
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["0.1.0"]


def test_an_installed_client_updates_itself_to_the_newest_release(installed: Path) -> None:
    assert installed_version(installed, CLIENT) == f"{CLIENT} 0.1.0"
    check = run(installed, CLIENT, "update", "--check", "--proxy", "none")
    assert check.returncode == 0, check.stderr
    assert check.stdout == f"Montage 0.2.0 is available (this is 0.1.0).\n{NOTES}\n"

    # What an install killed mid-unpacking would have left; the next one clears it.
    leftover = installed / "versions" / ".0.2.0.partial-interrupted"
    (leftover / "montage_core").mkdir(parents=True)
    update = run(installed, CLIENT, "update", "--install", "--proxy", "none")
    assert update.returncode == 0, update.stderr
    assert not leftover.exists()
    assert "Downloaded 100 %" in update.stderr
    assert "Installed Montage 0.2.0; starting it." in update.stderr
    # The process went on as the new version: its first words are its version.
    assert update.stdout.strip() == f"{CLIENT} 0.2.0"

    assert installed_version(installed, CLIENT) == f"{CLIENT} 0.2.0"
    again = run(installed, CLIENT, "update", "--check", "--proxy", "none")
    assert again.stdout.strip() == "Montage 0.2.0 is up to date."
    assert sorted(p.name for p in (installed / "versions").iterdir()) == ["0.1.0", "0.2.0"]


def _flip_a_byte(repo: Repo) -> None:
    release = next(r for r in repo.repository.releases() if r.version == "0.2.0")
    stored = repo.repository.stored_target(release)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))


def _sign_with_a_wrong_key(repo: Repo) -> None:
    stranger = Ed25519PrivateKey.generate()
    wrong = RoleKey("timestamp", CryptoSigner(stranger), CryptoSigner(stranger).public_key)
    repo.repository.sign_timestamp(wrong, datetime.now(UTC) + timedelta(days=1))


def _expire_the_timestamp(repo: Repo) -> None:
    repo.repository.sign_timestamp(repo.keys["timestamp"], datetime.now(UTC) - timedelta(hours=1))


ATTACKS = {
    "flipped byte in the release": (_flip_a_byte, HashMismatch, "does not match the size"),
    "metadata signed with a wrong key": (_sign_with_a_wrong_key, BadSignature, "not signed by"),
    "expired timestamp": (_expire_the_timestamp, ExpiredMetadata, "has expired"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_tampered_repository_is_refused_and_the_old_version_still_runs(
    attack: str, installed: Path, repo: Repo
) -> None:
    tamper, refusal, words = ATTACKS[attack]
    with repo.restored_after():
        tamper(repo)
        update = run(installed, CLIENT, "update", "--install", "--proxy", "none")
    assert update.returncode == refusal.exit_code, update.stderr
    last = update.stderr.strip().splitlines()[-1]
    assert last.startswith("montage-client: The update was refused: ")
    assert words in last and "Montage 0.1.0 stays installed." in last
    _still_0_1(installed)


def test_a_signed_release_that_does_not_start_is_never_made_current(
    installed: Path, repo: Repo, tmp_path: Path
) -> None:
    broken = tmp_path / "montage-client-0.3.0.tar.gz"
    files = {
        "montage_core/__init__.py": b"",
        "montage_client/__init__.py": b"",
        "montage_client/__main__.py": b"raise SystemExit('this build is broken')\n",
        "montage-release.json": json.dumps(
            {"app": CLIENT, "version": "0.3.0", "platform": "source"}
        ).encode(),
    }
    with tarfile.open(broken, "w:gz") as packed:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            packed.addfile(info, io.BytesIO(data))
    with repo.restored_after():
        repo.repository.add_release(
            broken, app=CLIENT, platform="source", version="0.3.0", notes="", keys=repo.keys
        )
        update = run(installed, CLIENT, "update", "--install", "--proxy", "none")
    assert update.returncode == InstallFailed.exit_code, update.stderr
    assert update.stderr.strip().splitlines()[-1] == (
        "montage-client: Montage 0.3.0 did not start correctly (it said 'this build is broken'); "
        "Montage 0.1.0 stays installed."
    )
    assert installed_version(installed, CLIENT) == f"{CLIENT} 0.1.0"
    assert (installed / "current").read_text().strip() == "0.1.0"


def test_older_metadata_offered_as_newer_is_refused_as_a_rollback(
    installed: Path, repo: Repo
) -> None:
    # This computer has seen the repository offer 0.2.0 ...
    assert "0.2.0 is available" in run(installed, CLIENT, "update", "--check").stdout
    # ... then a mirror (or an attacker) serves the earlier, validly signed state.
    older = repo.repository.path.with_name("offering-0.1.5")
    with repo.restored_after():
        shutil.copytree(older, repo.repository.metadata_dir, dirs_exist_ok=True)
        update = run(installed, CLIENT, "update", "--install", "--proxy", "none")
    assert update.returncode == Rollback.exit_code, update.stderr
    assert "older release information than this computer has already seen" in update.stderr
    _still_0_1(installed)


def test_no_update_server_is_a_sentence_and_its_own_exit_code(
    tmp_path: Path, built: dict[str, Path], repo: Repo
) -> None:
    closed = "https://127.0.0.1:9/updates"  # the discard port: nothing listens
    root = install(tmp_path / "montage", CLIENT, built["0.1.0"], repo, url=closed)
    check = run(root, CLIENT, "update", "--check", "--proxy", "none")
    assert check.returncode == NoNetwork.exit_code
    assert (
        check.stderr.strip()
        .splitlines()[-1]
        .startswith(f"montage-client: Could not reach the update server at {closed}")
    )
    _still_0_1(root)


def test_a_copy_not_installed_with_updates_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "montage_client", "update", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "was not installed with updates" in result.stderr


def _dev_cloud_code(workdir: Path, port: int) -> str:
    """`montage-cloud dev` as the command line runs it, on a kept workdir and port."""
    return (
        "import sys; from montage_cloud.cli import main; "
        f"sys.exit(main(['dev', '--workdir', {str(workdir)!r}, '--port', '{port}']))"
    )


def test_a_download_cut_halfway_leaves_the_old_version_and_a_retry_completes(
    tmp_path: Path, built: dict[str, Path]
) -> None:
    trusted_ca = tmp_path / "ca.pem"  # each dev cloud makes its own CA; the client trusts this
    with start_dev_cloud(_mkdir(tmp_path / "log1"), _dev_cloud_code(tmp_path / "cloud1", 0)) as (
        process,
        ready,
    ):
        shutil.copyfile(ready["ca_cert"], trusted_ca)
        updates = ready["updates"]
        port = int(ready["api"]["url"].rsplit(":", 1)[1])
        served = Repo(
            ReleaseRepository(Path(updates["repo"])), Path(updates["keys"]), "", str(trusted_ca)
        )
        release = served.repository.add_release(
            built["0.2.0"],
            app=CLIENT,
            platform="source",
            version="0.2.0",
            notes="",
            keys=served.keys,
        )
        # Metadata is a few kB: the cut falls in the middle of the release's archive.
        with cutting_relay(port, cut_after=12_000 + release.length // 2) as relay:
            url = f"https://127.0.0.1:{relay.port}/updates"
            root = install(tmp_path / "montage", CLIENT, built["0.1.0"], served, url=url)
            update = subprocess.Popen(
                [sys.executable, str(root / "launch.py"), CLIENT, "update", "--install"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
            assert relay.cut.wait(30), "the download never reached the cut"
            stop_process(process)  # the server dies with the file half sent
            _, said = update.communicate(timeout=60)
            assert update.returncode == NoNetwork.exit_code, said
            shown = [int(p) for p in re.findall(r"Downloaded (\d+) %", said)]
            assert 10 <= max(shown) < 100, said  # it stopped partway through the file
            assert said.splitlines()[-1] == (
                f"montage-client: The download from the update server at {url} stopped "
                "halfway (the connection closed). Try again; Montage 0.1.0 stays installed."
            )
            _still_0_1(root)
            assert list((root / "update" / "downloads").glob("*")) == []

            # A server is back on the same port with the same repository; the person retries.
            relay.cut_after = None
            shutil.copytree(Path(updates["repo"]).parent, tmp_path / "cloud2" / "updates")
            code = _dev_cloud_code(tmp_path / "cloud2", port)
            with start_dev_cloud(_mkdir(tmp_path / "log2"), code) as (_, again):
                shutil.copyfile(again["ca_cert"], trusted_ca)
                retry = run(root, CLIENT, "update", "--install", "--proxy", "none")
            assert retry.returncode == 0, retry.stderr
            assert retry.stdout.strip() == f"{CLIENT} 0.2.0"
    assert installed_version(root, CLIENT) == f"{CLIENT} 0.2.0"
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["0.1.0", "0.2.0"]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


BANNER = (226, 238, 252)  # montage_client/ui/update_banner.py's background


def _shows_banner(rgb: np.ndarray[Any, np.dtype[np.uint8]]) -> bool:
    return int(np.all(rgb == BANNER, axis=-1).sum()) > 2000


@pytest.mark.xvfb
def test_the_client_window_offers_the_update_and_installs_it_on_a_click(
    installed: Path, tmp_path: Path
) -> None:
    with Xvfb(1024, 768) as display:
        window = subprocess.Popen(
            [sys.executable, str(installed / "launch.py"), CLIENT],
            env=display.env(MONTAGE_CONFIG_DIR=str(tmp_path / "config")),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            until(lambda: _shows_banner(screenshot(display)), 30, "the update banner")
            shot = screenshot(display)
            (tmp_path / "banner.png").write_bytes(
                mss.tools.to_png(shot.tobytes(), shot.shape[1::-1])
            )
            words = read_words(shot)
            said = " ".join(w.text for w in words).replace("—", "-")
            assert "Montage 0.2.0 is available - Install" in said, said
            assert NOTES in said, said

            install = next(w for w in words if w.text == "Install")
            subprocess.run(
                ["xdotool", "mousemove", str(install.x), str(install.y), "click", "1"],
                env=display.env(),
                check=True,
            )
            # The window goes away and comes back as 0.2.0 (the same process, re-executed),
            # which finds nothing newer: no banner.
            until(lambda: (installed / "current").read_text().strip() == "0.2.0", 30, "0.2.0")
            until(lambda: not _shows_banner(screenshot(display)), 30, "the banner to go")
            until(lambda: bool(read_words(screenshot(display))), 30, "the new window")
            assert window.poll() is None
            assert "Share your screen" in " ".join(w.text for w in read_words(screenshot(display)))
        finally:
            stop_process(window)
    assert installed_version(installed, CLIENT) == f"{CLIENT} 0.2.0"
