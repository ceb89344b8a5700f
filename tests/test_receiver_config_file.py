"""The receiver's configuration file: what it sets, flags over it, a sentence per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from montage_core.cloud.secret_store import SecretStoreChoice
from montage_receiver.cli import build_parser, config_from
from montage_receiver.config_file import ConfigFileError, read_config_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "receiver" / "receiver.toml"


def config(tmp_path: Path, text: str, *flags: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "receiver.toml"
    path.write_text(text)
    parser = build_parser()
    return config_from(parser.parse_args(["--config", str(path), *flags]), parser)


def test_the_documented_example_is_a_valid_file() -> None:
    settings = read_config_file(EXAMPLE)
    assert settings == {
        "name": "Board room",
        "pin": True,
        "force_local": False,
        "cloud": True,
        "advertise": True,
        "secret_store": SecretStoreChoice.AUTO,
    }


def test_the_file_sets_the_room_and_flags_override_it(tmp_path: Path) -> None:
    text = (
        'name = "  Blue   room "\npin = false\nforce_local = true\ncloud = false\n'
        'advertise = false\nsecret_store = "file"\nport = 8443\n'
        f'data_dir = "{tmp_path / "data"}"\n'
    )
    from_file = config(tmp_path, text)
    assert from_file.name == "Blue room"
    assert from_file.pin is None
    assert (from_file.force_local, from_file.cloud, from_file.advertise) == (True, False, False)
    assert from_file.secret_store is SecretStoreChoice.FILE
    assert from_file.port == 8443 and from_file.data_dir == tmp_path / "data"

    flags = config(
        tmp_path, text, "--name=Red", "--pin=4321", "--no-force-local", "--advertise",
        "--secret-store=keyring", "--port=9443",
    )  # fmt: skip
    assert (flags.name, flags.pin) == ("Red", "4321")
    assert (flags.force_local, flags.advertise) == (False, True)
    assert flags.secret_store is SecretStoreChoice.KEYRING and flags.port == 9443
    assert flags.cloud is False  # not given on the command line: the file's

    fixed = config(tmp_path, 'pin = "0042"\n')
    assert fixed.pin == "0042" and fixed.advertise and fixed.cloud
    assert config(tmp_path, "pin = true\n").pin is not None  # a fresh one


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            'name = "Room"\n\npin = 1234\n',
            'line 3: pin must be true, false or a 4-digit PIN in quotes ("1234"), not 1234.',
        ),
        (
            "# the room\nadvertize = false\n",
            "line 2: advertize is not a receiver setting. Did you mean advertise?",
        ),
        (
            "cloud = false\nforce_local = 'yes'\n",
            'line 2: force_local must be true or false, not "yes".',
        ),
        ('secret_store = "vault"\n', 'line 1: secret_store must be "keyring", "file" or "auto"'),
        ("port = 70000\n", "line 1: port must be a number from 0 to 65535, not 70000."),
        ('name = "Room\n', "line 1: this is not a valid setting line"),
        ("pin = true\n[room]\nname = 'x'\n", "line 2: [room] sections are not used"),
        ('proxy = "ftp://x"\n', "line 1: proxy is not a proxy setting:"),
    ],
)
def test_a_bad_file_gets_its_line_key_and_what_is_wrong(
    tmp_path: Path, text: str, sentence: str
) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        read_config_file(path)
    assert str(caught.value).startswith(f"{path}, ")
    assert sentence in str(caught.value)


def test_the_receiver_program_stops_on_a_bad_file_with_the_sentence(tmp_path: Path) -> None:
    path = tmp_path / "room.toml"
    path.write_text('name = "Room"\nadvertise = "no"\n')
    result = subprocess.run(
        [sys.executable, "-m", "montage_receiver.cli", "--headless", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f'montage-receiver: {path}, line 2: advertise must be true or false, not "no".'
    )
    missing = subprocess.run(
        [sys.executable, "-m", "montage_receiver.cli", "--config", "/nonexistent.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "The configuration file /nonexistent.toml does not exist." in missing.stderr
