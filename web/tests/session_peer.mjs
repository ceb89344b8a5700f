// The page's protocol state machine (web/src/session.js) as a peer for
// tests/browser/test_session_cross_language.py, which pumps it against the
// receiver's real one (montage_receiver/presenter_session.py). One JSON
// request per line on stdin, one answer per line on stdout:
//
//   {"op": "new", "id", "name", "tls"}   {"op": "start", "id"}
//   {"op": "submit_pin", "id", "pin"}    {"op": "set_offer", "id", "sdp"}
//   {"op": "receive", "id", "text"}      {"op": "lost", "id"}   {"op": "leave", "id"}
//
// Every answer carries `out` (texts to send), `events` and `state`; a call
// the session refuses answers {"error": {"kind", "message"}} as well.

import { createInterface } from "node:readline";

import { ClientSession } from "../src/session.js";

const sessions = new Map();

function plain(event) {
  const copy = { ...event };
  if (copy.error) copy.error = { kind: copy.error.kind, message: copy.error.message };
  return copy;
}

function handle(request) {
  if (request.op === "new") {
    sessions.set(request.id, new ClientSession(request.name, request.tls));
    return { out: [], events: [], state: "idle" };
  }
  const session = sessions.get(request.id);
  let events = [];
  let error;
  try {
    switch (request.op) {
      case "start":
        session.start();
        break;
      case "submit_pin":
        session.submitPin(request.pin);
        break;
      case "set_offer":
        session.setOffer(request.sdp);
        break;
      case "receive":
        events = session.receive(request.text);
        break;
      case "lost":
        events = session.connectionLost();
        break;
      case "leave":
        session.leave();
        break;
      default:
        throw new Error(`unknown op ${request.op}`);
    }
  } catch (thrown) {
    error = { kind: thrown.kind ?? thrown.name, message: thrown.message };
  }
  return { out: session.messagesToSend(), events: events.map(plain), state: session.state, error };
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) process.stdout.write(`${JSON.stringify(handle(JSON.parse(line)))}\n`);
}
