"""The browser's PIN exchange (web/src/, Node.js) against the Python one (montage_core), both ways.

The receiver runs the Python `spake2` package; the page runs our SPAKE2 steps
on @noble/curves. They must agree byte for byte: the same blinding points,
the same message for the same randomness, the same key, the same key
confirmations over the same canonical DTLS fingerprints — and a wrong PIN
must fail on both sides, whichever side has it wrong.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator

import pytest
from spake2 import SPAKE2_A, SPAKE2_B
from spake2.parameters.ed25519 import ParamsEd25519

from montage_core.protocol.messages import MalformedMessage
from montage_core.protocol.pin_auth import (
    ID_CLIENT,
    ID_RECEIVER,
    NO_PIN,
    PinExchange,
    dtls_fingerprints,
)
from tests.browser.node_peer import NodePeer, node_missing

TLS = "sha-256 " + "3FA0" * 16
# What Chromium offers (one sha-256 line per media section, repeated) and
# what aiortc answers (three algorithms, session level): the canonical form
# must come out the same in both languages.
_CHROMIUM_DTLS = ":".join(f"{b:02X}" for b in hashlib.sha256(b"a DTLS certificate").digest())
CHROMIUM_OFFER = (
    "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    f"a=fingerprint:sha-256 {_CHROMIUM_DTLS}\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    f"a=fingerprint:sha-256 {_CHROMIUM_DTLS.lower()}\r\n"
)
AIORTC_ANSWER = (
    "v=0\r\no=- 3921 3921 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "a=fingerprint:SHA-512 7D:B2:47\r\n"
    "a=fingerprint:sha-256 AA:BB:CC:DD \r\n"
    "a=fingerprint:sha-384 8C:3D:6D\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 97\r\n"
)


@pytest.fixture(scope="module")
def js() -> Iterator[NodePeer]:
    missing = node_missing()
    assert missing is None, missing  # setup.sh installs Node.js and web/node_modules
    peer = NodePeer("pin_peer.mjs")
    try:
        yield peer
    finally:
        peer.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def test_blinding_points_are_the_python_packages(js: NodePeer) -> None:
    points = js.ask(op="parameters")
    assert unb64(points["M"]) == ParamsEd25519.M.to_bytes()
    assert unb64(points["N"]) == ParamsEd25519.N.to_bytes()


@pytest.mark.parametrize("role", ["client", "receiver"])
def test_same_randomness_gives_the_same_bytes_and_key(js: NodePeer, role: str) -> None:
    entropy = os.urandom(64)
    mine, theirs = (SPAKE2_A, SPAKE2_B) if role == "client" else (SPAKE2_B, SPAKE2_A)
    python = mine(b"0427", idA=ID_CLIENT, idB=ID_RECEIVER, entropy_f=lambda n: entropy[:n])
    started = js.ask(op="start", id=f"same-{role}", pin="0427", role=role, entropy=b64(entropy))
    assert unb64(started["message"]) == python.start()
    other = theirs(b"0427", idA=ID_CLIENT, idB=ID_RECEIVER)
    inbound = other.start()
    finished = js.ask(op="finish", id=f"same-{role}", message=b64(inbound))
    assert unb64(finished["key"]) == python.finish(inbound)


@pytest.mark.parametrize(("client_pin", "receiver_pin"), [("0427", "0427"), ("0427", "0428")])
def test_browser_client_against_python_receiver(
    js: NodePeer, client_pin: str, receiver_pin: str
) -> None:
    right = client_pin == receiver_pin
    exchange_id = f"client-{client_pin}-{receiver_pin}"
    receiver = PinExchange(receiver_pin, is_client=False)
    started = js.ask(op="start", id=exchange_id, pin=client_pin, role="client")
    receiver.finish(unb64(started["message"]))
    assert js.ask(op="finish", id=exchange_id, message=b64(receiver.outbound))["ok"]
    # The client proves first (protocol.md §6.3); the receiver checks.
    confirm = js.ask(op="client_confirm", id=exchange_id, tls=TLS, offer_sdp=CHROMIUM_OFFER)
    offer_dtls = dtls_fingerprints(CHROMIUM_OFFER)
    assert receiver.check_client(unb64(confirm["confirm"]), TLS, offer_dtls) is right
    # And the receiver's proof, checked by the browser.
    answer_dtls = dtls_fingerprints(AIORTC_ANSWER)
    proof = receiver.receiver_confirm(TLS, offer_dtls, answer_dtls)
    checked = js.ask(
        op="check_receiver",
        id=exchange_id,
        confirm=b64(proof),
        tls=TLS,
        offer_sdp=CHROMIUM_OFFER,
        answer_sdp=AIORTC_ANSWER,
    )
    assert checked["ok"] is right


@pytest.mark.parametrize(("client_pin", "receiver_pin"), [("9051", "9051"), ("9051", "1509")])
def test_python_client_against_browser_receiver(
    js: NodePeer, client_pin: str, receiver_pin: str
) -> None:
    right = client_pin == receiver_pin
    exchange_id = f"receiver-{client_pin}-{receiver_pin}"
    client = PinExchange(client_pin, is_client=True)
    started = js.ask(op="start", id=exchange_id, pin=receiver_pin, role="receiver")
    client.finish(unb64(started["message"]))
    assert js.ask(op="finish", id=exchange_id, message=b64(client.outbound))["ok"]
    offer_dtls = dtls_fingerprints(CHROMIUM_OFFER)
    checked = js.ask(
        op="check_client",
        id=exchange_id,
        confirm=b64(client.client_confirm(TLS, offer_dtls)),
        tls=TLS,
        offer_sdp=CHROMIUM_OFFER,
    )
    assert checked["ok"] is right
    proof = js.ask(
        op="receiver_confirm",
        id=exchange_id,
        tls=TLS,
        offer_sdp=CHROMIUM_OFFER,
        answer_sdp=AIORTC_ANSWER,
    )
    answer_dtls = dtls_fingerprints(AIORTC_ANSWER)
    assert client.check_receiver(unb64(proof["confirm"]), TLS, offer_dtls, answer_dtls) is right


def test_a_room_without_a_pin_agrees_on_the_empty_password(js: NodePeer) -> None:
    receiver = PinExchange(NO_PIN, is_client=False)
    started = js.ask(op="start", id="no-pin", pin=NO_PIN, role="client")
    receiver.finish(unb64(started["message"]))
    js.ask(op="finish", id="no-pin", message=b64(receiver.outbound))
    confirm = js.ask(op="client_confirm", id="no-pin", tls=TLS, offer_sdp=CHROMIUM_OFFER)
    offer_dtls = dtls_fingerprints(CHROMIUM_OFFER)
    assert receiver.check_client(unb64(confirm["confirm"]), TLS, offer_dtls)


def test_a_different_tls_fingerprint_fails_the_confirmation(js: NodePeer) -> None:
    receiver = PinExchange("1234", is_client=False)
    started = js.ask(op="start", id="mitm", pin="1234", role="client")
    receiver.finish(unb64(started["message"]))
    js.ask(op="finish", id="mitm", message=b64(receiver.outbound))
    # The page binds the certificate the cloud named; an interceptor's differs.
    forged = "sha-256 " + "0BAD" * 16
    confirm = js.ask(op="client_confirm", id="mitm", tls=forged, offer_sdp=CHROMIUM_OFFER)
    assert not receiver.check_client(
        unb64(confirm["confirm"]), TLS, dtls_fingerprints(CHROMIUM_OFFER)
    )


@pytest.mark.parametrize("sdp", [CHROMIUM_OFFER, AIORTC_ANSWER])
def test_dtls_fingerprints_have_one_canonical_form(js: NodePeer, sdp: str) -> None:
    assert js.ask(op="dtls", sdp=sdp)["dtls"] == dtls_fingerprints(sdp)


def test_no_fingerprint_is_refused_by_both(js: NodePeer) -> None:
    assert "no DTLS fingerprint" in js.ask(op="dtls", sdp="v=0\r\nm=video 9 RTP 96\r\n")["error"]


def _message(side: bytes) -> bytes:
    return side + SPAKE2_B(b"1234", idA=ID_CLIENT, idB=ID_RECEIVER).start()[1:]


@pytest.mark.parametrize(
    ("name", "inbound"),
    [
        ("message from my own side", lambda mine: b"A" + mine[1:]),
        ("unknown side", lambda mine: b"Z" + _message(b"B")[1:]),
        ("reflected message", lambda mine: b"B" + mine[1:]),
        ("a side byte and 32 bytes", lambda mine: _message(b"B")[:20]),
        ("not a point on the curve", lambda mine: b"B" + bytes([2]) + bytes(31)),
        ("element was zero", lambda mine: b"B" + bytes([1]) + bytes(31)),  # the identity
        ("not in the right group", lambda mine: b"B" + bytes(32)),  # a point of order 4
    ],
)
def test_bad_messages_are_refused_by_both(js: NodePeer, name: str, inbound: object) -> None:
    started = js.ask(op="start", id=f"bad-{name}", pin="1234", role="client")
    mine = unb64(started["message"])
    message = inbound(mine)  # type: ignore[operator]
    refused = js.ask(op="finish", id=f"bad-{name}", message=b64(message))
    assert name in refused.get("error", ""), refused
    python = PinExchange("1234", is_client=True)
    if name == "reflected message":
        # What a reflection of *its* message would be.
        python._spake.outbound_message = mine[1:]
    with pytest.raises(MalformedMessage):
        python.finish(message)
