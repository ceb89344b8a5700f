"""The receiver's configuration file (`--config FILE`): a meeting-room box's settings.

A TOML file of top-level `key = value` lines (deploy/receiver.toml is the
commented example). Each setting is declared once below with its type and
what it means; command-line flags override the file. A bad file is refused
with a sentence that names the file, the line, the key and what is wrong.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from montage_core.cloud.secret_store import SecretStoreChoice
from montage_core.net import InvalidProxySetting, ProxySettings
from montage_core.protocol.errors import InvalidInput
from montage_core.protocol.messages import MAX_NAME_CHARS
from montage_core.protocol.pin_auth import valid_pin


class ConfigFileError(InvalidInput):
    """The configuration file cannot be used; the sentence says where and why."""


@dataclass(frozen=True)
class Setting:
    key: str
    meaning: str
    # Checks a value from the file: returns what the receiver uses, or raises
    # ValueError with what is wrong ("must be true or false, not 3").
    check: Callable[[Any], Any]


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_shown(value)}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not " ".join(value.split()):
        raise ValueError(f"must be a non-empty text in quotes, not {_shown(value)}")
    if len(" ".join(value.split())) > MAX_NAME_CHARS:
        raise ValueError(f"must be at most {MAX_NAME_CHARS} characters")
    return " ".join(value.split())


def _pin(value: Any) -> bool | str:
    # true: a fresh PIN per meeting; false: none; "1234": always that one.
    if isinstance(value, bool) or (isinstance(value, str) and valid_pin(value)):
        return value
    raise ValueError(
        f'must be true, false or a 4-digit PIN in quotes ("1234"), not {_shown(value)}'
    )


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"must be a number from 0 to 65535, not {_shown(value)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty text in quotes, not {_shown(value)}")
    return value.strip()


def _secret_store(value: Any) -> SecretStoreChoice:
    try:
        return SecretStoreChoice(value)
    except ValueError:
        raise ValueError(f'must be "keyring", "file" or "auto", not {_shown(value)}') from None


def _proxy(value: Any) -> ProxySettings:
    text = _text(value)
    try:
        return ProxySettings.parse(text)
    except InvalidProxySetting as exc:
        raise ValueError(f"is not a proxy setting: {exc}") from None


SETTINGS: tuple[Setting, ...] = (
    Setting("name", "the room's name, shown on the wall and to people nearby", _name),
    Setting("pin", "true: a fresh PIN for every meeting; false: no PIN; or a fixed one", _pin),
    Setting("force_local", "show the 10-digit local ID even when enrolled with a cloud", _boolean),
    Setting("cloud", "false: never talk to a cloud (no enrolment, no 6-digit ID)", _boolean),
    Setting("advertise", "announce this room on the local network (mDNS, _montage._tcp)", _boolean),
    Setting(
        "secret_store", "where cloud credentials are kept: keyring, file or auto", _secret_store
    ),
    Setting("port", "TLS port presenters connect to", _port),
    Setting("bind", "IPv4 address to listen on", _text),
    Setting("data_dir", "where the certificate and the enrolment are kept", _text),
    Setting("proxy", "how the cloud is reached (as --proxy)", _proxy),
)
_BY_KEY = {setting.key: setting for setting in SETTINGS}


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings `path` gives, checked, by key; ConfigFileError says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"The configuration file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"Cannot read the configuration file {path}: {exc}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "Invalid value (at line 3, column 7)": turned round to lead with the line.
        detail = str(exc)
        found = re.search(r"\(at line (\d+), column \d+\)", detail)
        where = f", line {found.group(1)}" if found else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", detail) if found else detail
        raise ConfigFileError(
            f"{path}{where}: this is not a valid setting line ({reason}). Write settings "
            'as key = value, texts in quotes: name = "Board room".'
        ) from None
    settings: dict[str, Any] = {}
    for key, value in data.items():
        line = _line_of(text, key)
        if isinstance(value, dict):
            raise ConfigFileError(
                f"{path}, line {line}: [{key}] sections are not used; write every setting "
                "at the top level of the file."
            )
        setting = _BY_KEY.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, _BY_KEY, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            known = ", ".join(_BY_KEY)
            raise ConfigFileError(
                f"{path}, line {line}: {key} is not a receiver setting.{hint} "
                f"The settings are: {known}."
            )
        try:
            settings[key] = setting.check(value)
        except ValueError as exc:
            raise ConfigFileError(f"{path}, line {line}: {key} {exc}.") from None
    return settings


def _line_of(text: str, key: str) -> int:
    """The line where `key` is set (or its [section] begins); 1 if it cannot be found."""
    pattern = re.compile(
        rf"""^\s*(\[\s*)?("{re.escape(key)}"|'{re.escape(key)}'|{re.escape(key)})\b"""
    )
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return 1


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
