// The page's one connection: a WebSocket to the cloud that carries the
// protocol to the receiver through the guest bridge (docs/protocol.md §17).
//
//   page → cloud  {"type": "join", "meeting_id": "123456"}
//   cloud → page  {"type": "joined", "fingerprint", "ice_servers", …}
//              or {"type": "refused", "code", "message"}
//
// After `joined` every text frame is one protocol message.

import { SENTENCES, ShareError, joinRefusal } from "./sentences.js";

export const GUEST_SIGNAL_PATH = "/v1/guest/signal";
const JOIN_TIMEOUT_MS = 15000;

export class GuestLink {
  /**
   * Open the socket and join the meeting; resolves once the cloud said `joined`.
   * Rejects with a ShareError (unknown meeting, guests not allowed, cloud unreachable…).
   */
  static join(meetingId, { url = defaultUrl(), onMessage, onClose } = {}) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch {
        reject(new ShareError("cloud_unreachable", SENTENCES.cloudUnreachable));
        return;
      }
      let link = null;
      const timer = setTimeout(() => {
        ws.close();
        reject(new ShareError("cloud_unreachable", SENTENCES.cloudUnreachable));
      }, JOIN_TIMEOUT_MS);
      ws.onopen = () => ws.send(JSON.stringify({ type: "join", meeting_id: meetingId }));
      ws.onmessage = (event) => {
        if (link !== null) {
          link.onMessage(event.data);
          return;
        }
        clearTimeout(timer);
        let answer = null;
        try {
          answer = JSON.parse(event.data);
        } catch {
          // handled below
        }
        if (answer?.type === "joined") {
          link = new GuestLink(ws, answer, onMessage, onClose);
          resolve(link);
        } else if (answer?.type === "refused") {
          reject(joinRefusal(answer));
          ws.close();
        } else {
          reject(new ShareError("cloud_unreachable", SENTENCES.cloudUnreachable));
          ws.close();
        }
      };
      ws.onclose = () => {
        clearTimeout(timer);
        if (link === null) reject(new ShareError("cloud_unreachable", SENTENCES.cloudUnreachable));
        else link.closed();
      };
    });
  }

  constructor(ws, joined, onMessage, onClose) {
    this.ws = ws;
    this.joined = joined;
    this.fingerprint = joined.fingerprint;
    this.iceServers = joined.ice_servers ?? [];
    this.openedAt = performance.now();
    this.onMessage = onMessage ?? (() => {});
    this.onClose = onClose ?? (() => {});
    this.isOpen = true;
  }

  send(text) {
    if (this.isOpen) this.ws.send(text);
  }

  close() {
    if (this.isOpen) {
      this.isOpen = false;
      this.ws.close(1000);
    }
  }

  closed() {
    if (this.isOpen) {
      this.isOpen = false;
      this.onClose();
    }
  }
}

function defaultUrl() {
  const url = new URL(GUEST_SIGNAL_PATH, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}
