"""PIN authentication: SPAKE2 keyed by the PIN, confirmed over the transcript.

Each side runs one SPAKE2 exchange (`spake2` package, as magic-wormhole does
with its short codes). The PIN never crosses the wire, and a passive or active
attacker gets one online guess per exchange: nothing sent lets them test PINs
offline. The shared key is then bound to what a machine in the middle would
have to replace: the receiver's TLS certificate fingerprint (as the client saw
it) and the DTLS fingerprints in both SDPs. The client proves first; the
receiver only sends its proof after checking the client's, so a wrong PIN
yields nothing to test guesses against.

    client_confirm   = HMAC-SHA256(K, "montage/1 client"   | tls | offer_dtls)
    receiver_confirm = HMAC-SHA256(K, "montage/1 receiver" | tls | offer_dtls | answer_dtls)

A share that may resume (docs/protocol.md §18) also gets a ticket: a random
name the receiver chooses, and a key only the two ends of this exchange can
compute. A later connection proves the key over its own transcript, on top
of a new PIN exchange:

    resume_key   = HMAC-SHA256(K, "montage/1 resume key" | ticket)
    resume_proof = HMAC-SHA256(resume_key, "montage/1 resume" | tls | offer_dtls)
"""

from __future__ import annotations

import hashlib
import hmac
import re

from spake2 import SPAKE2_A, SPAKE2_B

from .messages import MalformedMessage

ID_CLIENT = b"montage-client"
ID_RECEIVER = b"montage-receiver"
PIN_LENGTH = 4
# A receiver without a PIN still runs the exchange with this password: one
# code path, and the transcript binding still detects a careless relay.
NO_PIN = ""

_FINGERPRINT_LINE = re.compile(r"^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$", re.MULTILINE)


def dtls_fingerprints(sdp: str) -> str:
    """The DTLS certificate fingerprints an SDP announces, in canonical form."""
    found = sorted({f"{alg.lower()} {fp.upper()}" for alg, fp in _FINGERPRINT_LINE.findall(sdp)})
    if not found:
        raise MalformedMessage("SDP carries no DTLS fingerprint")
    return ",".join(found)


def certificate_fingerprint(der: bytes) -> str:
    return "sha-256 " + hashlib.sha256(der).hexdigest().upper()


def valid_pin(pin: str) -> bool:
    return len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()


class PinExchange:
    """One side of one SPAKE2 run. Make a new one for every attempt."""

    def __init__(self, pin: str, *, is_client: bool) -> None:
        password = pin.encode("ascii")
        side = SPAKE2_A if is_client else SPAKE2_B
        self._is_client = is_client
        self._spake = side(password, idA=ID_CLIENT, idB=ID_RECEIVER)
        self.outbound = self._spake.start()
        self._key: bytes | None = None

    def finish(self, inbound: bytes) -> None:
        # spake2 decodes a point from whatever bytes it is given, so a
        # truncated message can still land on the curve (about 1 in 16 for
        # random bytes): refuse any message that is not exactly our length.
        if len(inbound) != len(self.outbound):
            raise MalformedMessage(
                f"invalid PAKE message: {len(inbound)} bytes, expected {len(self.outbound)}"
                " (a side byte and 32 bytes)"
            )
        try:
            self._key = self._spake.finish(inbound)
        except Exception as exc:
            # spake2 raises SPAKEError, ValueError and its own NotOnCurve
            # (a bare Exception) for corrupt or reflected messages: all bad input.
            raise MalformedMessage(f"invalid PAKE message: {exc}") from exc

    @property
    def finished(self) -> bool:
        return self._key is not None

    def _mac(self, label: bytes, *parts: str) -> bytes:
        if self._key is None:
            raise RuntimeError("PIN exchange not finished")
        data = label + b"".join(b"|" + part.encode() for part in parts)
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def client_confirm(self, tls: str, offer_dtls: str) -> bytes:
        return self._mac(b"montage/1 client", tls, offer_dtls)

    def receiver_confirm(self, tls: str, offer_dtls: str, answer_dtls: str) -> bytes:
        return self._mac(b"montage/1 receiver", tls, offer_dtls, answer_dtls)

    def resume_key(self, ticket: str) -> bytes:
        """The key of the resume ticket issued with this exchange (§18)."""
        return self._mac(b"montage/1 resume key", ticket)

    def check_client(self, confirm: bytes, tls: str, offer_dtls: str) -> bool:
        return hmac.compare_digest(confirm, self.client_confirm(tls, offer_dtls))

    def check_receiver(self, confirm: bytes, tls: str, offer_dtls: str, answer_dtls: str) -> bool:
        return hmac.compare_digest(confirm, self.receiver_confirm(tls, offer_dtls, answer_dtls))


def resume_proof(key: bytes, tls: str, offer_dtls: str) -> bytes:
    """Proof of a resume ticket's key, bound to one connection's TLS and offer."""
    data = b"montage/1 resume" + b"".join(b"|" + part.encode() for part in (tls, offer_dtls))
    return hmac.new(key, data, hashlib.sha256).digest()


def check_resume_proof(proof: bytes, key: bytes, tls: str, offer_dtls: str) -> bool:
    return hmac.compare_digest(proof, resume_proof(key, tls, offer_dtls))
