// The browser's WebRTC to the receiver (aiortc), set up for screens.
//
// Three transceivers, all send-only, in the protocol's order (§10): the
// screen, the camera, the microphone. The camera and microphone sections are
// negotiated even while off; turning them on or off swaps the sender's track
// and changes no SDP. ICE goes through the cloud's TURN server (TLS on 443
// first) with the guest's own short-lived credentials. There is no trickle
// ICE: the offer waits for gathering to finish.
//
// Chromium's defaults share a 1080p screen poorly (its 2.5 Mbit/s screen cap
// held VP8 to about 5 fps here), so each quality sets what the desktop
// client's --quality does: a content hint, the encoder's caps and what to
// give up first when bandwidth or CPU runs short.

import { SENTENCES, ShareError } from "./sentences.js";

export const QUALITIES = {
  // Sharp text, few frames: documents and slides.
  text: { hint: "text", degradation: "maintain-resolution", maxFramerate: 15, maxBitrate: 8_000_000 },
  // Smooth motion at full rate: video, animations.
  motion: { hint: "motion", degradation: "maintain-framerate", maxFramerate: 30, maxBitrate: 20_000_000 },
  // Both, traded as the encoder sees fit.
  auto: { hint: "detail", degradation: "balanced", maxFramerate: 30, maxBitrate: 20_000_000 },
};
const CAMERA = { width: 1280, height: 720, frameRate: 30, maxBitrate: 2_500_000 };
// VP8 first: Chromium's software H264 managed 1.8 fps at 1080p here.
const VIDEO_CODECS = ["video/VP8", "video/H264"];
const GATHER_TIMEOUT_MS = 8000;

/** Whether this browser has what the page needs; false → the "unsupported browser" sentence. */
export function browserSupported() {
  return (
    typeof window !== "undefined" &&
    window.isSecureContext &&
    typeof RTCPeerConnection === "function" &&
    typeof RTCRtpTransceiver === "function" &&
    "setCodecPreferences" in RTCRtpTransceiver.prototype &&
    typeof navigator.mediaDevices?.getDisplayMedia === "function" &&
    typeof WebSocket === "function" &&
    typeof BigInt === "function"
  );
}

/** Chromium's picker; resolves with the chosen screen's stream or throws a ShareError. */
export async function pickScreen() {
  try {
    return await navigator.mediaDevices.getDisplayMedia({
      video: { width: { max: 1920 }, height: { max: 1080 }, frameRate: { max: 30 } },
      audio: false,
    });
  } catch (error) {
    if (error?.name === "NotAllowedError") throw new ShareError("picker_cancelled", SENTENCES.pickerCancelled);
    // Chromium asks for a click of the person's own (transient activation).
    if (error?.name === "InvalidStateError") throw new ShareError("picker_click", SENTENCES.pickerNeedsClick);
    throw new ShareError("picker_failed", SENTENCES.pickerFailed);
  }
}

export class ShareMedia {
  /**
   * @param {MediaStream} screen - from pickScreen()
   * @param {RTCIceServer[]} iceServers - the guest's TURN server(s)
   */
  constructor(screen, iceServers, quality = "auto") {
    this.screen = screen;
    this.screenTrack = screen.getVideoTracks()[0];
    this.quality = QUALITIES[quality] ?? QUALITIES.auto;
    this.screenTrack.contentHint = this.quality.hint;
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.screenSender = this.pc.addTransceiver(this.screenTrack, {
      direction: "sendonly",
      sendEncodings: [{ maxBitrate: this.quality.maxBitrate, maxFramerate: this.quality.maxFramerate }],
    });
    this.cameraSender = this.pc.addTransceiver("video", {
      direction: "sendonly",
      sendEncodings: [{ maxBitrate: CAMERA.maxBitrate, maxFramerate: CAMERA.frameRate }],
    });
    this.microphoneSender = this.pc.addTransceiver("audio", { direction: "sendonly" });
    for (const transceiver of [this.screenSender, this.cameraSender]) preferVideoCodecs(transceiver);
    this.camera = null;
    this.microphone = null;
  }

  /** The SDP offer with every candidate gathered (no trickle ICE in this protocol). */
  async offer() {
    await this.pc.setLocalDescription();
    await gathered(this.pc);
    return this.pc.localDescription.sdp;
  }

  async accept(sdp) {
    await this.pc.setRemoteDescription({ type: "answer", sdp });
    await this.applyQuality();
  }

  /** Switch between text, motion and auto while sharing. */
  async setQuality(name) {
    this.quality = QUALITIES[name] ?? QUALITIES.auto;
    this.screenTrack.contentHint = this.quality.hint;
    if (this.pc.remoteDescription) await this.applyQuality();
  }

  async applyQuality() {
    const sender = this.screenSender.sender;
    const parameters = sender.getParameters();
    for (const encoding of parameters.encodings ?? []) {
      encoding.maxBitrate = this.quality.maxBitrate;
      encoding.maxFramerate = this.quality.maxFramerate;
    }
    parameters.degradationPreference = this.quality.degradation;
    try {
      await sender.setParameters(parameters);
    } catch (error) {
      // Older browsers refuse degradationPreference; the caps alone still help.
      delete parameters.degradationPreference;
      await sender.setParameters(parameters);
      console.info("degradationPreference not applied:", error);
    }
  }

  /** Turn the camera on or off; throws the browser's error if it cannot be opened. */
  async setCamera(on) {
    if (on && this.camera === null) {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: CAMERA.width }, height: { ideal: CAMERA.height }, frameRate: { ideal: CAMERA.frameRate } },
      });
      this.camera = stream.getVideoTracks()[0];
      this.camera.contentHint = "motion";
      await this.cameraSender.sender.replaceTrack(this.camera);
    } else if (!on && this.camera !== null) {
      await this.cameraSender.sender.replaceTrack(null);
      this.camera.stop();
      this.camera = null;
    }
  }

  async setMicrophone(on) {
    if (on && this.microphone === null) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      this.microphone = stream.getAudioTracks()[0];
      await this.microphoneSender.sender.replaceTrack(this.microphone);
    } else if (!on && this.microphone !== null) {
      await this.microphoneSender.sender.replaceTrack(null);
      this.microphone.stop();
      this.microphone = null;
    }
  }

  get size() {
    const { width = 0, height = 0 } = this.screenTrack.getSettings();
    return { width, height };
  }

  /** The selected ICE candidate pair's local side ({candidateType, relayProtocol}), if any. */
  async path() {
    const stats = await this.pc.getStats();
    for (const report of stats.values()) {
      if (report.type === "transport" && report.selectedCandidatePairId) {
        const pair = stats.get(report.selectedCandidatePairId);
        const local = pair && stats.get(pair.localCandidateId);
        if (local) return { candidateType: local.candidateType, relayProtocol: local.relayProtocol ?? null };
      }
    }
    return null;
  }

  close() {
    for (const track of [this.screenTrack, this.camera, this.microphone]) track?.stop();
    this.camera = this.microphone = null;
    this.pc.close();
  }
}

function preferVideoCodecs(transceiver) {
  const codecs = RTCRtpSender.getCapabilities("video")?.codecs ?? [];
  const ordered = VIDEO_CODECS.flatMap((name) => codecs.filter((c) => c.mimeType === name));
  // rtx stays listed, or lost packets cannot be repaired by NACK.
  ordered.push(...codecs.filter((c) => c.mimeType === "video/rtx"));
  if (ordered.length) transceiver.setCodecPreferences(ordered);
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    // A TURN server that never answers must not hold the share: offer what we have.
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}
