"""PIN authentication: SPAKE2 plus key confirmation bound to TLS and DTLS fingerprints."""

from __future__ import annotations

import base64
import hashlib

import pytest

from montage_core.protocol import messages as m
from montage_core.protocol.client_session import ClientSession, ClientState
from montage_core.protocol.events import AnswerReceived, OfferVerified
from montage_core.protocol.messages import MalformedMessage
from montage_core.protocol.pin_auth import (
    NO_PIN,
    PinExchange,
    certificate_fingerprint,
    dtls_fingerprints,
    valid_pin,
)
from montage_receiver.presenter_session import PresenterSession, Room, SessionState

TLS = "sha-256 " + "AB:" * 31 + "CD"
OTHER_TLS = "sha-256 " + "EF:" * 31 + "01"
SDP_C = "v=0\r\na=fingerprint:sha-256 AA:BB:CC\r\n"
SDP_R = "v=0\r\na=fingerprint:sha-256 DD:EE:FF\r\n"
OFFER_DTLS = dtls_fingerprints(SDP_C)
ANSWER_DTLS = dtls_fingerprints(SDP_R)


def exchange(client_pin: str, receiver_pin: str) -> tuple[PinExchange, PinExchange]:
    client = PinExchange(client_pin, is_client=True)
    receiver = PinExchange(receiver_pin, is_client=False)
    receiver.finish(client.outbound)
    client.finish(receiver.outbound)
    return client, receiver


# -- the exchange ----------------------------------------------------------------
def test_right_pin_confirmations_check_both_ways() -> None:
    client, receiver = exchange("1234", "1234")
    assert client.finished and receiver.finished
    confirm = client.client_confirm(TLS, OFFER_DTLS)
    assert len(confirm) == 32
    assert receiver.check_client(confirm, TLS, OFFER_DTLS)
    answer = receiver.receiver_confirm(TLS, OFFER_DTLS, ANSWER_DTLS)
    assert client.check_receiver(answer, TLS, OFFER_DTLS, ANSWER_DTLS)
    # The two directions use different labels: one cannot be replayed as the other.
    assert confirm != answer
    assert not client.check_receiver(confirm, TLS, OFFER_DTLS, ANSWER_DTLS)


def test_both_sides_derive_the_same_confirmations() -> None:
    client, receiver = exchange("0042", "0042")
    assert client.client_confirm(TLS, OFFER_DTLS) == receiver.client_confirm(TLS, OFFER_DTLS)
    assert client.receiver_confirm(TLS, OFFER_DTLS, ANSWER_DTLS) == receiver.receiver_confirm(
        TLS, OFFER_DTLS, ANSWER_DTLS
    )


def test_no_pin_exchange_agrees() -> None:
    client, receiver = exchange(NO_PIN, NO_PIN)
    assert receiver.check_client(client.client_confirm(TLS, OFFER_DTLS), TLS, OFFER_DTLS)


def test_each_run_gets_a_fresh_key() -> None:
    first, _ = exchange("1234", "1234")
    second, _ = exchange("1234", "1234")
    assert first.outbound != second.outbound
    assert first.client_confirm(TLS, OFFER_DTLS) != second.client_confirm(TLS, OFFER_DTLS)


@pytest.mark.parametrize(
    ("client_pin", "receiver_pin"),
    [("0000", "1234"), ("1235", "1234"), (NO_PIN, "1234"), ("1234", NO_PIN)],
)
def test_wrong_pin_client_confirm_fails_at_receiver(client_pin: str, receiver_pin: str) -> None:
    client, receiver = exchange(client_pin, receiver_pin)
    assert not receiver.check_client(client.client_confirm(TLS, OFFER_DTLS), TLS, OFFER_DTLS)
    # Nor would the receiver's proof convince the client.
    answer = receiver.receiver_confirm(TLS, OFFER_DTLS, ANSWER_DTLS)
    assert not client.check_receiver(answer, TLS, OFFER_DTLS, ANSWER_DTLS)


def test_confirmation_fails_when_tls_fingerprint_differs() -> None:
    # A machine in the middle with its own certificate: the client saw OTHER_TLS.
    client, receiver = exchange("1234", "1234")
    assert not receiver.check_client(client.client_confirm(OTHER_TLS, OFFER_DTLS), TLS, OFFER_DTLS)
    answer = receiver.receiver_confirm(TLS, OFFER_DTLS, ANSWER_DTLS)
    assert not client.check_receiver(answer, OTHER_TLS, OFFER_DTLS, ANSWER_DTLS)


def test_confirmation_fails_when_offer_dtls_is_swapped() -> None:
    client, receiver = exchange("1234", "1234")
    swapped = dtls_fingerprints(SDP_C.replace("AA:BB:CC", "AA:BB:CD"))
    assert swapped != OFFER_DTLS
    assert not receiver.check_client(client.client_confirm(TLS, OFFER_DTLS), TLS, swapped)
    answer = receiver.receiver_confirm(TLS, swapped, ANSWER_DTLS)
    assert not client.check_receiver(answer, TLS, OFFER_DTLS, ANSWER_DTLS)


def test_confirmation_fails_when_answer_dtls_is_swapped() -> None:
    client, receiver = exchange("1234", "1234")
    swapped = dtls_fingerprints(SDP_R.replace("DD:EE:FF", "00:11:22"))
    answer = receiver.receiver_confirm(TLS, OFFER_DTLS, ANSWER_DTLS)
    assert not client.check_receiver(answer, TLS, OFFER_DTLS, swapped)
    assert not client.check_receiver(answer, TLS, ANSWER_DTLS, OFFER_DTLS)


def test_confirm_before_finish_is_an_error() -> None:
    exchange_ = PinExchange("1234", is_client=True)
    assert not exchange_.finished
    with pytest.raises(RuntimeError):
        exchange_.client_confirm(TLS, OFFER_DTLS)


@pytest.mark.parametrize(
    "corrupt",
    [
        b"",
        b"\x00",
        b"A" + b"\x00" * 32,
        b"B" + b"\xff" * 32,
        b"B" + b"\x00" * 32,
        b"C" + b"\x00" * 32,
    ],
)
def test_corrupt_pake_message_is_malformed(corrupt: bytes) -> None:
    with pytest.raises(MalformedMessage) as info:
        PinExchange("1234", is_client=True).finish(corrupt)
    assert info.value.code is m.ErrorCode.BAD_MESSAGE
    assert "PAKE" in str(info.value)


def test_reflected_pake_message_is_malformed() -> None:
    client = PinExchange("1234", is_client=True)
    with pytest.raises(MalformedMessage):
        client.finish(client.outbound)
    receiver = PinExchange("1234", is_client=False)
    with pytest.raises(MalformedMessage):
        receiver.finish(receiver.outbound)


def test_substituted_pake_message_fails_confirmation() -> None:
    # A machine in the middle swaps in its own SPAKE2 message (made with a guessed PIN).
    client = PinExchange("1234", is_client=True)
    receiver = PinExchange("1234", is_client=False)
    attacker = PinExchange("9999", is_client=True)
    receiver.finish(attacker.outbound)
    client.finish(receiver.outbound)
    assert not receiver.check_client(client.client_confirm(TLS, OFFER_DTLS), TLS, OFFER_DTLS)


# Ed25519 y-coordinate 0x0202...02 has no x on the curve: spake2 raises NotOnCurve,
# which derives from Exception, not SPAKEError/ValueError.
NOT_ON_CURVE = b"B" + b"\x02" * 32


def test_point_not_on_curve_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        PinExchange("1234", is_client=True).finish(NOT_ON_CURVE)


# -- fingerprints ------------------------------------------------------------------
def test_dtls_fingerprints_canonicalise_case_and_order() -> None:
    one = "v=0\r\na=fingerprint:SHA-256 aa:bb\r\nm=video\r\na=fingerprint:sha-1 0a:0b\r\n"
    two = "v=0\na=fingerprint:sha-1 0A:0B\nm=audio\na=fingerprint:sha-256 AA:BB\n"
    assert dtls_fingerprints(one) == dtls_fingerprints(two) == "sha-1 0A:0B,sha-256 AA:BB"


def test_dtls_fingerprints_deduplicate_repeated_lines() -> None:
    sdp = "a=fingerprint:sha-256 AA:BB\r\nm=audio\r\na=fingerprint:sha-256 aa:bb\r\n"
    assert dtls_fingerprints(sdp) == "sha-256 AA:BB"


def test_dtls_fingerprints_distinguish_different_certificates() -> None:
    assert dtls_fingerprints(SDP_C) != dtls_fingerprints(SDP_R)
    both = SDP_C + SDP_R
    assert dtls_fingerprints(both) == "sha-256 AA:BB:CC,sha-256 DD:EE:FF"


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "v=0\r\n",
        "v=0\r\na=fingerprint:\r\n",
        "v=0\r\na=fingerprint:sha-256 ZZ:YY\r\n",
        "v=0\r\nx a=fingerprint:sha-256 AA:BB\r\n",
        "v=0\r\na=setup:actpass\r\n",
    ],
)
def test_dtls_fingerprints_reject_sdp_without_fingerprint(sdp: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        dtls_fingerprints(sdp)
    assert "fingerprint" in str(info.value)


def test_certificate_fingerprint_is_sha256_upper_hex() -> None:
    der = b"certificate bytes"
    assert certificate_fingerprint(der) == "sha-256 " + hashlib.sha256(der).hexdigest().upper()


@pytest.mark.parametrize(
    ("pin", "ok"),
    [
        ("1234", True),
        ("0000", True),
        ("123", False),
        ("12345", False),
        ("12a4", False),
        ("", False),
        ("١٢٣٤", False),
        ("12 4", False),
        ("+123", False),
    ],
)
def test_valid_pin(pin: str, ok: bool) -> None:
    assert valid_pin(pin) is ok


# -- the PIN never crosses the wire ----------------------------------------------------
@pytest.mark.parametrize("pin", ["1234", "0987"])
def test_pin_never_appears_in_any_message_of_a_full_exchange(pin: str) -> None:
    room = Room(name="Room", pin=pin, tls_fingerprint=TLS)
    client = ClientSession("Ann", TLS)
    receiver = PresenterSession(room, "10.0.0.2")
    frames: list[str] = []
    events: list[object] = []

    def pump() -> None:
        for _ in range(10):
            moved = False
            for msg in client.messages_to_send():
                moved = True
                frames.append(m.serialize(msg))
                events.extend(receiver.receive(frames[-1], 0.0))
            for msg in receiver.messages_to_send():
                moved = True
                frames.append(m.serialize(msg))
                events.extend(client.receive(frames[-1]))
            if not moved:
                return

    client.start()
    client.set_offer(SDP_C)
    pump()
    wrong = "5555"
    client.submit_pin(wrong)  # a wrong attempt first, then the right one
    pump()
    assert client.state is ClientState.NEED_PIN
    client.submit_pin(pin)
    pump()
    events.extend(receiver.send_answer(SDP_R))
    pump()
    client.set_share_state("paused", 800, 600)
    client.leave()
    pump()
    assert any(isinstance(e, OfferVerified) for e in events)
    assert any(isinstance(e, AnswerReceived) for e in events)
    assert receiver.state is SessionState.CLOSED
    kinds = [m.parse(f).TYPE for f in frames]
    for kind in ("hello", "welcome", "pake", "offer", "error", "answer", "share", "bye"):
        assert kind in kinds
    for frame in frames:
        assert pin not in frame
        assert pin.encode() not in frame.encode()
        parsed = m.parse(frame)
        for blob_field in ("message", "confirm"):
            blob = getattr(parsed, blob_field, None)
            if isinstance(blob, bytes):
                assert pin.encode() not in blob
                assert base64.b64encode(pin.encode()) not in blob
