"""The XMPP payload that carries one protocol message (docs/protocol.md §15.2).

    <signal xmlns="urn:montage:signal:1" conversation="…">{"type":"hello",…}</signal>

inside an `<iq type="set">`. Apart from the devices' signalling
(`montage_core.cloud.xmpp_signal`) the cloud's guest bridge uses it too, so
it lives here, free of the proxy and media stacks the cloud does not install.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from slixmpp import Iq
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from montage_core.protocol.messages import MAX_MESSAGE_BYTES

SIGNAL_NS = "urn:montage:signal:1"
# What a `conversation` attribute may be: chosen at random per share.
CONVERSATION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The most JSON one <signal/> may carry: the receiver's own transport limit
# (protocol §2) with room for escaping.
MAX_TEXT = 4 * MAX_MESSAGE_BYTES


class SignalStanza(ElementBase):
    """`<signal xmlns="urn:montage:signal:1" conversation="…">JSON</signal>`."""

    name = "signal"
    namespace = SIGNAL_NS
    plugin_attrib = "montage_signal"
    interfaces: ClassVar[set[str]] = {"conversation", "json"}

    def get_json(self) -> str:
        return str(self.xml.text or "")

    def set_json(self, value: str) -> None:
        self.xml.text = value

    def del_json(self) -> None:
        self.xml.text = None


register_stanza_plugin(Iq, SignalStanza)


def refuse(iq: Any, kind: str, condition: str) -> None:
    """Answer a `<signal/>` IQ with an XMPP error (RFC 6120 §8.3: `kind` is its type)."""
    refusal = iq.reply(clear=True)
    refusal["type"] = "error"
    refusal["error"]["type"] = kind
    refusal["error"]["condition"] = condition
    refusal.send()
