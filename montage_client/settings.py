"""The person's preferences, declared once with defaults, kept in a JSON file.

Only preferences live here (name, recent meetings, the proxy choice); no
secret ever does: a proxy password goes to the OS keyring.
`MONTAGE_CONFIG_DIR` moves the file (tests, portable installs).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from montage_core.net import ProxySettings

logger = logging.getLogger(__name__)

MAX_RECENT = 5


def chosen_proxy(spec: str | None) -> ProxySettings:
    """`--proxy` if given, else the proxy saved in the settings (else the system's)."""
    if spec is None:
        return ClientSettings.load().proxy_settings()
    # Imported here: a local meeting never needs the proxy stack.
    from montage_core.net import ProxySettings

    return ProxySettings.parse(spec)


def config_dir() -> Path:
    override = os.environ.get("MONTAGE_CONFIG_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "montage"


@dataclass
class ClientSettings:
    name: str = ""  # shown on the receiver under the shared screen
    recent_meetings: list[str] = field(default_factory=list)  # 10-digit IDs, newest first
    # The command-line form of `ProxySettings` ("system", "http://user@host:port", …).
    proxy: str = "system"

    def proxy_settings(self) -> ProxySettings:
        """The proxy choice; a damaged one falls back to the system's settings."""
        # Imported here: the network stack is not needed to read the settings.
        from montage_core.net import InvalidProxySetting, ProxySettings

        try:
            return ProxySettings.parse(self.proxy)
        except InvalidProxySetting as exc:
            logger.warning("ignoring the saved proxy setting: %s", exc)
            return ProxySettings.parse("system")

    def remember_meeting(self, digits: str) -> None:
        self.recent_meetings = [digits, *(d for d in self.recent_meetings if d != digits)]
        del self.recent_meetings[MAX_RECENT:]

    @classmethod
    def load(cls, path: Path | None = None) -> ClientSettings:
        path = path or config_dir() / "client.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            # A damaged file must not stop anyone presenting; start afresh.
            logger.warning("ignoring unreadable settings %s: %s", path, exc)
            return cls()
        settings = cls()
        if isinstance(data.get("name"), str):
            settings.name = data["name"][:64]
        if isinstance(data.get("proxy"), str):
            settings.proxy = data["proxy"][:512]
        recent = data.get("recent_meetings")
        if isinstance(recent, list):
            settings.recent_meetings = [r for r in recent if isinstance(r, str)][:MAX_RECENT]
        return settings

    def save(self, path: Path | None = None) -> None:
        path = path or config_dir() / "client.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            logger.warning("cannot save settings to %s: %s", path, exc)
