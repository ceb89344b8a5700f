// The browser's PIN code (web/src/pin_auth.js, web/src/spake2.js) as a peer
// for tests/browser/test_pin_cross_language.py: one JSON request per line on
// stdin, one JSON answer per line on stdout. Bytes travel as base64.
//
//   {"op": "parameters"}                                  -> {"M", "N"}
//   {"op": "start", "id", "pin", "role", "entropy"?}      -> {"message"}
//   {"op": "finish", "id", "message"}                     -> {"ok"} or {"error"}
//   {"op": "client_confirm", "id", "tls", "offer_sdp"}    -> {"confirm"}
//   {"op": "check_client", "id", "confirm", "tls", "offer_sdp"}          -> {"ok"}
//   {"op": "receiver_confirm", "id", "tls", "offer_sdp", "answer_sdp"}   -> {"confirm"}
//   {"op": "check_receiver", "id", "confirm", "tls", "offer_sdp", "answer_sdp"} -> {"ok"}
//   {"op": "dtls", "sdp"}                                 -> {"dtls"} or {"error"}
//
// `entropy` (base64) replaces the random source, read front to back, so a
// run can be compared byte for byte with the Python package's.

import { createInterface } from "node:readline";

import { PinExchange, dtlsFingerprints } from "../src/pin_auth.js";
import { PARAMETERS } from "../src/spake2.js";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const bytes = (text) => new Uint8Array(Buffer.from(text, "base64"));

function fixedRandom(entropy) {
  let offset = 0;
  return (n) => {
    if (offset + n > entropy.length) throw new Error("entropy used up");
    const out = entropy.slice(offset, offset + n);
    offset += n;
    return out;
  };
}

const exchanges = new Map();

function handle(request) {
  const exchange = exchanges.get(request.id);
  switch (request.op) {
    case "parameters":
      return { M: b64(PARAMETERS.M), N: b64(PARAMETERS.N) };
    case "start": {
      const options = { isClient: request.role === "client" };
      if (request.entropy) options.random = fixedRandom(bytes(request.entropy));
      const created = new PinExchange(request.pin, options);
      exchanges.set(request.id, created);
      return { message: b64(created.outbound) };
    }
    case "finish":
      exchange.finish(bytes(request.message));
      return { ok: true, key: b64(exchange.key) };
    case "client_confirm":
      return { confirm: b64(exchange.clientConfirm(request.tls, dtlsFingerprints(request.offer_sdp))) };
    case "check_client":
      return {
        ok: exchange.checkClient(bytes(request.confirm), request.tls, dtlsFingerprints(request.offer_sdp)),
      };
    case "receiver_confirm":
      return {
        confirm: b64(
          exchange.receiverConfirm(
            request.tls,
            dtlsFingerprints(request.offer_sdp),
            dtlsFingerprints(request.answer_sdp),
          ),
        ),
      };
    case "check_receiver":
      return {
        ok: exchange.checkReceiver(
          bytes(request.confirm),
          request.tls,
          dtlsFingerprints(request.offer_sdp),
          dtlsFingerprints(request.answer_sdp),
        ),
      };
    case "dtls":
      return { dtls: dtlsFingerprints(request.sdp) };
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = handle(JSON.parse(line));
  } catch (error) {
    answer = { error: `${error.name}: ${error.message}` };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
