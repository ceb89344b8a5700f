// SPAKE2 on Ed25519, byte for byte as the Python `spake2` package (0.9)
// does it with its default parameters — the receiver runs that package.
//
// Only the protocol's steps live here. Every group operation (point
// decoding and encoding, addition, scalar multiplication, the subgroup
// check) is @noble/curves'; hashing, HKDF and randomness are
// @noble/hashes'. Where the Python package makes a choice of its own (how M
// and N are derived from their seeds, how a password becomes a scalar, what
// the transcript hash covers), the comment names the Python function.
//
//   A: X* = x·G + pw·M        B: Y* = y·G + pw·N
//   K  = x·(Y* − pw·N)   =   y·(X* − pw·M)
//   key = SHA256(SHA256(pw) | SHA256(idA) | SHA256(idB) | X* | Y* | K)
//
// Messages on the wire are a side byte ("A" or "B") and the 32-byte point.

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberBE, equalBytes, numberToBytesLE } from "@noble/curves/utils.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";

const Point = ed25519.Point;
const { n: ORDER, p: FIELD } = Point.CURVE();
const EMPTY = new Uint8Array(0);
const SIDE_A = 0x41; // "A"
const SIDE_B = 0x42; // "B"

/** A message SPAKE2 refuses: wrong side, not a point, not in the group, reflected. */
export class SpakeError extends Error {
  constructor(message) {
    super(message);
    this.name = "SpakeError";
  }
}

// groups.expand_arbitrary_element_seed / expand_password: HKDF-SHA256 with an
// empty salt, 32 + 16 bytes so the reduction below is nearly unbiased.
function expand(data, info) {
  return hkdf(sha256, data, EMPTY, utf8ToBytes(info), 48);
}

// ed25519_basic.arbitrary_element: hash the seed to a y coordinate, walk up
// from it to the first y that is on the curve (taking the even x), then
// multiply by the cofactor 8 to land in the prime-order subgroup.
function arbitraryElement(seed) {
  const start = bytesToNumberBE(expand(utf8ToBytes(seed), "SPAKE2 arbitrary element")) % FIELD;
  for (let plus = 0n; ; plus += 1n) {
    let point;
    try {
      // Sign bit 0 selects the even x, as the Python code's xrecover does.
      point = Point.fromBytes(numberToBytesLE((start + plus) % FIELD, 32));
    } catch {
      continue; // no point with this y (it is on the twist)
    }
    const inGroup = point.multiplyUnsafe(8n);
    if (!inGroup.is0()) return inGroup;
  }
}

// params._Params: M and N from the seeds "M" and "N".
const M = arbitraryElement("M");
const N = arbitraryElement("N");

/** The blinding points, for checking against the Python package's `ParamsEd25519`. */
export const PARAMETERS = Object.freeze({ M: M.toBytes(), N: N.toBytes() });

// groups.password_to_scalar
function passwordToScalar(password) {
  return bytesToNumberBE(expand(password, "SPAKE2 pw")) % ORDER;
}

// ed25519_basic.random_scalar: 64 random bytes reduced modulo the group order.
function randomScalar(random) {
  for (;;) {
    const scalar = bytesToNumberBE(random(64)) % ORDER;
    if (scalar !== 0n) return scalar; // noble refuses 0; Python's chance of it is nil
  }
}

// Scalar multiplication that also accepts 0, which a password scalar may be.
function times(point, scalar) {
  return scalar === 0n ? Point.ZERO : point.multiply(scalar);
}

class Spake2 {
  /**
   * @param {Uint8Array} password
   * @param {Uint8Array} idA
   * @param {Uint8Array} idB
   * @param {(n: number) => Uint8Array} random - injected for byte-exact tests
   */
  constructor(side, password, idA, idB, random = randomBytes) {
    this.side = side;
    this.password = password;
    this.idA = idA;
    this.idB = idB;
    this.pwScalar = passwordToScalar(password);
    this.random = random;
    this.started = false;
    this.finished = false;
  }

  /** The message to send: side byte + X* (or Y*). Call once. */
  start() {
    if (this.started) throw new SpakeError("start() can only be called once");
    this.started = true;
    const [blinding] = this.blindings();
    this.secret = randomScalar(this.random);
    const element = Point.BASE.multiply(this.secret).add(times(blinding, this.pwScalar));
    this.outbound = element.toBytes();
    return concatBytes(Uint8Array.of(this.side), this.outbound);
  }

  /** The 32-byte shared key, from the other side's message; throws SpakeError. */
  finish(inbound) {
    if (!this.started) throw new SpakeError("start() must come before finish()");
    if (this.finished) throw new SpakeError("finish() can only be called once");
    this.finished = true;
    const other = inbound[0];
    if (other !== SIDE_A && other !== SIDE_B) throw new SpakeError("unknown side");
    if (other === this.side) throw new SpakeError("message from my own side");
    const message = inbound.subarray(1);
    if (message.length !== 32) throw new SpakeError("a message is a side byte and 32 bytes");
    let element;
    try {
      element = Point.fromBytes(message);
    } catch {
      throw new SpakeError("not a point on the curve");
    }
    // ed25519_basic.bytes_to_element: only prime-order elements, never zero.
    if (element.is0()) throw new SpakeError("element was zero");
    if (!element.isTorsionFree()) throw new SpakeError("element is not in the right group");
    // spake2._SPAKE2_Base.finish
    if (equalBytes(element.toBytes(), this.outbound)) throw new SpakeError("reflected message");
    const [, unblinding] = this.blindings();
    const unblinded = element.add(times(unblinding, (ORDER - this.pwScalar) % ORDER));
    const shared = times(unblinded, this.secret).toBytes();
    const [xMessage, yMessage] =
      this.side === SIDE_A ? [this.outbound, message] : [message, this.outbound];
    // spake2.finalize_SPAKE2
    return sha256(
      concatBytes(
        sha256(this.password),
        sha256(this.idA),
        sha256(this.idB),
        xMessage,
        yMessage,
        shared,
      ),
    );
  }

  blindings() {
    return this.side === SIDE_A ? [M, N] : [N, M];
  }
}

/** spake2.SPAKE2_A: the side that proves first (Montage's client). */
export class Spake2A extends Spake2 {
  constructor(password, idA = EMPTY, idB = EMPTY, random = randomBytes) {
    super(SIDE_A, password, idA, idB, random);
  }
}

/** spake2.SPAKE2_B: the other side (Montage's receiver). */
export class Spake2B extends Spake2 {
  constructor(password, idA = EMPTY, idB = EMPTY, random = randomBytes) {
    super(SIDE_B, password, idA, idB, random);
  }
}
