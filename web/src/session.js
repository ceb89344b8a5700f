// The presenter's side of the protocol as a state machine, as
// montage_core/protocol/client_session.py runs it (docs/protocol.md §13).
// No I/O: the page feeds it the receiver's frames (`receive`) and the
// person's and the media stack's calls (`start`, `submitPin`, `setOffer`,
// `setShareState`, `leave`), sends `messagesToSend()`, and acts on the
// events it returns:
//
//   {kind: "welcomed", room, pinRequired}
//   {kind: "pin_needed", error?}       error: a ShareError (wrong PIN) or undefined
//   {kind: "answer", sdp}
//   {kind: "mute", device}
//   {kind: "ended", error}             error: a ShareError with the sentence

import * as m from "./messages.js";
import { NO_PIN, PinExchange, dtlsFingerprints, validPin } from "./pin_auth.js";
import { SENTENCES, ShareError, receiverError, wrongPinSentence } from "./sentences.js";

export const State = Object.freeze({
  IDLE: "idle",
  HELLO_SENT: "hello_sent",
  NEED_PIN: "need_pin",
  PAKE_SENT: "pake_sent",
  KEYED: "keyed",
  OFFER_SENT: "offer_sent",
  SHARING: "sharing",
  CLOSED: "closed",
});

export class ClientSession {
  /**
   * @param {string} name - the presenter's name
   * @param {string} tlsFingerprint - the receiver's certificate, as the cloud names it
   */
  constructor(name, tlsFingerprint, { random } = {}) {
    this.name = name.trim();
    this.tlsFingerprint = tlsFingerprint;
    this.random = random;
    this.state = State.IDLE;
    this.room = null;
    this.pinRequired = false;
    this.outbox = [];
    this.exchange = null;
    this.offer = null;
    this.offerDtls = null;
  }

  start() {
    this.expect(State.IDLE);
    this.outbox.push(m.hello(this.name, [m.FEATURE_MUTE]));
    this.state = State.HELLO_SENT;
  }

  /** Start one PIN attempt; throws ShareError("bad_pin") for a malformed PIN. */
  submitPin(pin) {
    this.expect(State.NEED_PIN);
    const trimmed = pin.trim();
    if (!validPin(trimmed)) throw new ShareError("bad_pin", SENTENCES.badPin);
    this.beginExchange(trimmed);
  }

  /** The local SDP offer; sent as soon as the key is agreed. */
  setOffer(sdp) {
    this.offer = sdp;
    this.offerDtls = dtlsFingerprints(sdp);
    this.maybeSendOffer();
  }

  setShareState(state) {
    if (this.state === State.SHARING) this.outbox.push(m.share(state));
  }

  leave(reason = "stopped") {
    if (this.state !== State.IDLE && this.state !== State.CLOSED) this.outbox.push(m.bye(reason));
    this.state = State.CLOSED;
  }

  messagesToSend() {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  get closed() {
    return this.state === State.CLOSED;
  }

  receive(text) {
    if (this.closed) return [];
    let message;
    try {
      message = m.parse(text);
    } catch (error) {
      return this.fail(new ShareError("protocol", `The room sent a message we cannot read (${error.message}).`));
    }
    try {
      return this.handle(message);
    } catch (error) {
      // A PAKE message SPAKE2 refuses, an answer with no fingerprint: bad input.
      return this.fail(new ShareError("protocol", `The room sent a message we cannot use (${error.message}).`));
    }
  }

  connectionLost() {
    if (this.closed) return [];
    const sharing = this.state === State.SHARING;
    return this.fail(new ShareError("lost", sharing ? SENTENCES.lost : SENTENCES.lostBeforeStart));
  }

  // -- internals ---------------------------------------------------------------
  handle(message) {
    switch (message.type) {
      case "error":
        return this.onError(message);
      case "stop":
        return this.fail(new ShareError("stopped_by_room", SENTENCES.stoppedByRoom));
      case "bye":
        return this.fail(new ShareError("meeting_closed", SENTENCES.meetingClosed));
      case "welcome":
        if (this.state === State.HELLO_SENT) return this.onWelcome(message);
        break;
      case "pake":
        if (this.state === State.PAKE_SENT) {
          this.exchange.finish(message.message);
          this.state = State.KEYED;
          this.maybeSendOffer();
          return [];
        }
        break;
      case "answer":
        if (this.state === State.OFFER_SENT) return this.onAnswer(message);
        break;
      case "mute":
        if (this.state === State.SHARING) return [{ kind: "mute", device: message.device }];
        break;
    }
    return this.fail(new ShareError("protocol", `The room sent '${message.type}' out of turn.`));
  }

  onWelcome(welcome) {
    if (welcome.version !== m.PROTOCOL_VERSION) return this.fail(receiverError({ code: "unsupported_version" }));
    this.room = welcome.room;
    this.pinRequired = welcome.pinRequired;
    this.state = State.NEED_PIN;
    const events = [{ kind: "welcomed", room: welcome.room, pinRequired: welcome.pinRequired }];
    if (welcome.pinRequired) events.push({ kind: "pin_needed" });
    else this.beginExchange(NO_PIN);
    return events;
  }

  onAnswer(answer) {
    const answerDtls = dtlsFingerprints(answer.sdp);
    if (!this.exchange.checkReceiver(answer.confirm, this.tlsFingerprint, this.offerDtls, answerDtls)) {
      return this.fail(new ShareError("intercepted", SENTENCES.intercepted));
    }
    this.state = State.SHARING;
    return [{ kind: "answer", sdp: answer.sdp }];
  }

  onError(error) {
    if (error.code === "wrong_pin" && !error.fatal && this.state === State.OFFER_SENT) {
      this.exchange = null;
      this.state = State.NEED_PIN;
      const tries = error.triesLeft ?? 0;
      return [{ kind: "pin_needed", error: new ShareError("wrong_pin", wrongPinSentence(tries)) }];
    }
    return this.fail(receiverError(error));
  }

  beginExchange(pin) {
    const options = { isClient: true };
    if (this.random) options.random = this.random;
    this.exchange = new PinExchange(pin, options);
    this.outbox.push(m.pake(this.exchange.outbound));
    this.state = State.PAKE_SENT;
  }

  maybeSendOffer() {
    if (this.state !== State.KEYED || this.offer === null) return;
    const confirm = this.exchange.clientConfirm(this.tlsFingerprint, this.offerDtls);
    this.outbox.push(m.offer(this.offer, confirm));
    this.state = State.OFFER_SENT;
  }

  fail(error) {
    this.state = State.CLOSED;
    return [{ kind: "ended", error }];
  }

  expect(state) {
    if (this.state !== state) throw new Error(`not allowed in state ${this.state}`);
  }
}
