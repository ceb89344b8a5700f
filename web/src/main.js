// The join page: a person types the meeting ID and their name, the PIN if the
// room asks for it, presses Share, picks a screen, and it appears on the
// room's display. The page only collects input and shows sentences; the
// protocol is ClientSession's, the media ShareMedia's, the way to the
// receiver GuestLink's.
//
// #status holds the sentence for the current state; its data-state attribute
// names the state (idle, joining, need_pin, picking, connecting, sharing,
// stopped, failed, unsupported), data-error the kind of the last failure and,
// while sharing, data-path whether media goes direct or through the relay.
// data-seq counts the states shown, so a script can tell a repeated sentence
// (locked out again) from the old one.

import { GuestLink } from "./guest_link.js";
import { ShareMedia, browserSupported, pickScreen } from "./media.js";
import { SENTENCES, ShareError, deviceFailed, parseMeetingId, pinWanted } from "./sentences.js";
import { ClientSession, State } from "./session.js";

// The receiver drops a conversation that is not sharing after 180 s
// (protocol.md §9) without a word over the cloud: join afresh before that.
const STALE_JOIN_MS = 150_000;

const $ = (id) => document.getElementById(id);

class JoinPage {
  constructor() {
    this.form = $("join-form");
    this.meetingId = $("meeting-id");
    this.name = $("name");
    this.pinRow = $("pin-row");
    this.pin = $("pin");
    this.shareButton = $("share");
    this.stopButton = $("stop");
    this.cameraButton = $("camera");
    this.microphoneButton = $("microphone");
    this.quality = $("quality");
    this.status = $("status");
    this.link = null;
    this.session = null;
    this.media = null;
    this.meeting = null;
    this.busy = false;
    this.wanted = { camera: false, microphone: false };
  }

  start() {
    if (!browserSupported()) {
      this.show("unsupported", SENTENCES.unsupported, "unsupported");
      for (const element of [this.shareButton, this.cameraButton, this.microphoneButton]) element.disabled = true;
      return;
    }
    const fromLink = new URLSearchParams(window.location.search).get("meeting");
    if (fromLink) this.meetingId.value = fromLink;
    this.name.value = localStorage.getItem("montage.name") ?? "";
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.share();
    });
    this.stopButton.addEventListener("click", () => this.stop(SENTENCES.stopped));
    this.cameraButton.addEventListener("click", () => this.toggle("camera"));
    this.microphoneButton.addEventListener("click", () => this.toggle("microphone"));
    this.quality.addEventListener("change", () => this.media?.setQuality(this.quality.value));
    this.meetingId.addEventListener("input", () => this.forgetMeeting());
    // A closed tab ends the share: say goodbye while we still can (the cloud
    // also does, for a tab that could not).
    window.addEventListener("pagehide", () => this.leave("closed"));
    this.show("idle", SENTENCES.idle);
  }

  // -- the Share button ---------------------------------------------------------
  async share() {
    if (this.busy || this.session?.state === State.SHARING) return;
    this.busy = true;
    this.shareButton.disabled = true;
    try {
      await this.shareSteps();
    } catch (error) {
      this.fail(error);
    } finally {
      this.busy = false;
      this.shareButton.disabled = this.session?.state === State.SHARING;
    }
  }

  async shareSteps() {
    const meetingId = parseMeetingId(this.meetingId.value);
    if (meetingId instanceof ShareError) throw meetingId;
    const name = this.name.value.trim();
    if (!name) throw new ShareError("no_name", SENTENCES.noName);
    localStorage.setItem("montage.name", name);
    if (!this.joinedTo(meetingId)) await this.join(meetingId, name);
    const session = this.session;
    if (session.state === State.NEED_PIN && session.pinRequired) {
      if (!this.pin.value.trim()) {
        this.askForPin(session.room);
        return;
      }
      session.submitPin(this.pin.value); // throws on a malformed PIN, before the picker
    }
    if (this.media === null) {
      this.show("picking", "Choose the screen, window or tab to share.");
      const screen = await pickScreen();
      if (this.session !== session || session.closed) {
        screen.getTracks().forEach((track) => track.stop());
        return; // the room ended it while the picker was open; its sentence is shown
      }
      this.media = new ShareMedia(screen, this.link.iceServers, this.quality.value);
      this.media.screenTrack.addEventListener("ended", () => this.stop(SENTENCES.stopped));
      this.media.pc.addEventListener("connectionstatechange", () => this.onConnectionState());
      this.show("connecting", `Connecting to ${session.room}…`);
      session.setOffer(await this.media.offer());
    } else {
      this.show("connecting", `Checking the PIN with ${session.room}…`);
    }
    this.flush();
  }

  joinedTo(meetingId) {
    const fresh = this.link?.isOpen && performance.now() - this.link.openedAt < STALE_JOIN_MS;
    return fresh && this.meeting === meetingId && this.session !== null && !this.session.closed;
  }

  async join(meetingId, name) {
    this.cleanUp();
    this.show("joining", `Connecting to meeting ${meetingId.slice(0, 3)} ${meetingId.slice(3)}…`);
    const link = await GuestLink.join(meetingId, {
      onMessage: (text) => this.onReceiverMessage(text),
      onClose: () => this.handle(this.session?.connectionLost() ?? []),
    });
    const session = new ClientSession(name, link.fingerprint);
    this.link = link;
    this.meeting = meetingId;
    this.session = session;
    this.lastError = null;
    const welcomed = new Promise((resolve) => {
      this.onWelcome = resolve;
    });
    session.start();
    this.flush();
    await welcomed;
    // Refused at hello (room full, guests locked out): that sentence stands.
    if (session.closed) throw this.lastError ?? new ShareError("lost", SENTENCES.lostBeforeStart);
  }

  askForPin(room) {
    this.pinRow.hidden = false;
    this.show("need_pin", pinWanted(room));
    this.pin.focus();
  }

  // -- what the room says --------------------------------------------------------
  onReceiverMessage(text) {
    if (this.session !== null) this.handle(this.session.receive(text));
  }

  handle(events) {
    for (const event of events) {
      if (event.kind === "welcomed") {
        this.onWelcome?.();
      } else if (event.kind === "pin_needed" && event.error) {
        this.pin.value = "";
        this.pinRow.hidden = false;
        this.show("need_pin", event.error.message, event.error.kind);
        this.pin.focus();
      } else if (event.kind === "answer") {
        this.onAnswer(event.sdp).catch((error) => this.fail(error));
      } else if (event.kind === "mute") {
        this.setDevice("microphone", false).then(() => this.note(SENTENCES.mutedByRoom));
      } else if (event.kind === "ended") {
        this.lastError = event.error;
        this.onWelcome?.();
        this.fail(event.error);
      }
    }
    this.flush();
  }

  async onAnswer(sdp) {
    this.pinRow.hidden = true;
    this.stopButton.hidden = false;
    this.shareButton.hidden = true;
    for (const input of [this.meetingId, this.name, this.pin]) input.readOnly = true;
    this.show("connecting", `The room accepted: starting the picture on ${this.session.room}…`);
    await this.media.accept(sdp);
    for (const kind of ["camera", "microphone"]) {
      if (this.wanted[kind]) await this.setDevice(kind, true);
    }
    this.sendShareState();
    if (this.media?.pc.connectionState === "connected") await this.onConnected();
  }

  onConnectionState() {
    const state = this.media?.pc.connectionState;
    if (state === "connected") {
      this.onConnected().catch((error) => this.fail(error));
      return;
    }
    if (state !== "failed" || this.session === null) return;
    const connected = this.status.dataset.state === "sharing";
    this.session.leave("media failed");
    this.flush();
    this.fail(new ShareError("media_lost", connected ? SENTENCES.mediaLost : SENTENCES.noMediaPath));
  }

  /** Media flows: say so, and how (as the desktop client says Cloud or Relayed). */
  async onConnected() {
    if (this.session?.state !== State.SHARING || this.status.dataset.state === "sharing") return;
    const path = await this.media.path();
    const relayed = path?.candidateType === "relay";
    const how = relayed ? " through the cloud's relay" : "";
    this.show("sharing", `Sharing your screen to ${this.session.room}${how}.`);
    this.status.dataset.path = relayed ? `relayed-${path.relayProtocol ?? "udp"}` : "direct";
  }

  // -- camera and microphone -------------------------------------------------------
  async toggle(kind) {
    await this.setDevice(kind, !this.wanted[kind]);
  }

  async setDevice(kind, on) {
    this.wanted[kind] = on;
    const button = kind === "camera" ? this.cameraButton : this.microphoneButton;
    if (this.media !== null && this.session?.state === State.SHARING) {
      try {
        await (kind === "camera" ? this.media.setCamera(on) : this.media.setMicrophone(on));
      } catch (error) {
        this.wanted[kind] = false;
        this.note(deviceFailed(kind, error));
      }
      this.sendShareState();
    }
    const live = this.wanted[kind];
    button.setAttribute("aria-pressed", String(live));
    button.textContent = `${kind === "camera" ? "Camera" : "Microphone"} ${live ? "on" : "off"}`;
  }

  sendShareState() {
    if (this.session?.state !== State.SHARING) return;
    const { width, height } = this.media.size;
    this.session.setShareState({
      state: "sharing",
      width,
      height,
      camera: this.media.camera !== null,
      microphone: this.media.microphone !== null,
    });
    this.flush();
  }

  // -- ending ------------------------------------------------------------------------
  stop(sentence) {
    this.leave("stopped");
    this.show("stopped", sentence);
  }

  leave(reason) {
    if (this.session !== null && !this.session.closed) {
      this.session.leave(reason);
      this.flush();
    }
    this.cleanUp();
  }

  fail(error) {
    if (!(error instanceof ShareError)) {
      console.error(error);
      error = new ShareError("internal", `Something went wrong: ${error?.message ?? error}`);
    }
    // A cancelled picker or a mistyped PIN leaves the meeting open for another go.
    const keep = ["picker_cancelled", "picker_click", "bad_pin", "no_name"].includes(error.kind);
    if (!keep) this.cleanUp();
    this.show("failed", error.message, error.kind);
  }

  cleanUp() {
    this.media?.close();
    this.media = null;
    this.link?.close();
    this.link = null;
    this.session = null;
    this.meeting = null;
    this.onWelcome = null;
    this.stopButton.hidden = true;
    this.shareButton.hidden = false;
    this.shareButton.disabled = false;
    for (const input of [this.meetingId, this.name, this.pin]) input.readOnly = false;
  }

  forgetMeeting() {
    if (this.session !== null && this.session.state !== State.SHARING) {
      this.cleanUp();
      this.pinRow.hidden = true;
      this.pin.value = "";
    }
  }

  // -- plumbing ----------------------------------------------------------------------
  flush() {
    if (this.session === null || this.link === null) return;
    for (const text of this.session.messagesToSend()) this.link.send(text);
  }

  show(state, sentence, errorKind = "") {
    this.headline = sentence;
    this.status.textContent = sentence;
    this.status.dataset.state = state;
    this.status.dataset.error = errorKind;
    this.status.dataset.seq = String(Number(this.status.dataset.seq ?? 0) + 1);
    delete this.status.dataset.path;
  }

  /** Something to know that changes no state (a camera that would not open). */
  note(sentence) {
    this.status.textContent = `${this.headline} ${sentence}`;
  }
}

const page = new JoinPage();
// Tests and IT scripts read the page's state; nothing here is needed to use it.
window.montage = page;
page.start();
