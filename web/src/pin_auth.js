// The PIN exchange of docs/protocol.md §6, as montage_core/protocol/pin_auth.py
// does it: one SPAKE2 run keyed by the PIN, then HMAC-SHA256 confirmations
// bound to the receiver's TLS fingerprint and both SDPs' DTLS fingerprints.
//
//   client_confirm   = HMAC(K, "montage/1 client"   | tls | offer_dtls)
//   receiver_confirm = HMAC(K, "montage/1 receiver" | tls | offer_dtls | answer_dtls)

import { equalBytes } from "@noble/curves/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";

import { Spake2A, Spake2B } from "./spake2.js";

export const ID_CLIENT = utf8ToBytes("montage-client");
export const ID_RECEIVER = utf8ToBytes("montage-receiver");
export const PIN_LENGTH = 4;
// A room without a PIN still runs the exchange, with the empty password.
export const NO_PIN = "";

const FINGERPRINT_LINE = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/gm;

/** An SDP that cannot be bound (it names no DTLS certificate). */
export class SdpError extends Error {}

/** The DTLS certificate fingerprints an SDP announces, in canonical form. */
export function dtlsFingerprints(sdp) {
  const found = new Set();
  for (const [, alg, fingerprint] of sdp.matchAll(FINGERPRINT_LINE)) {
    found.add(`${alg.toLowerCase()} ${fingerprint.toUpperCase()}`);
  }
  if (found.size === 0) throw new SdpError("SDP carries no DTLS fingerprint");
  return [...found].sort().join(",");
}

export function validPin(pin) {
  return pin.length === PIN_LENGTH && /^[0-9]+$/.test(pin);
}

/** One side of one SPAKE2 run. Make a new one for every attempt. */
export class PinExchange {
  /**
   * @param {string} pin - 4 ASCII digits, or NO_PIN
   * @param {{isClient?: boolean, random?: (n: number) => Uint8Array}} options
   */
  constructor(pin, { isClient = true, random = randomBytes } = {}) {
    const password = utf8ToBytes(pin);
    const Side = isClient ? Spake2A : Spake2B;
    this.spake = new Side(password, ID_CLIENT, ID_RECEIVER, random);
    this.outbound = this.spake.start();
    this.key = null;
  }

  /** Complete the run with the other side's message; throws SpakeError. */
  finish(inbound) {
    this.key = this.spake.finish(inbound);
  }

  get finished() {
    return this.key !== null;
  }

  mac(label, ...parts) {
    if (this.key === null) throw new Error("PIN exchange not finished");
    return hmac(sha256, this.key, utf8ToBytes([label, ...parts].join("|")));
  }

  clientConfirm(tls, offerDtls) {
    return this.mac("montage/1 client", tls, offerDtls);
  }

  receiverConfirm(tls, offerDtls, answerDtls) {
    return this.mac("montage/1 receiver", tls, offerDtls, answerDtls);
  }

  checkClient(confirm, tls, offerDtls) {
    return equalBytes(confirm, this.clientConfirm(tls, offerDtls));
  }

  checkReceiver(confirm, tls, offerDtls, answerDtls) {
    return equalBytes(confirm, this.receiverConfirm(tls, offerDtls, answerDtls));
  }
}
