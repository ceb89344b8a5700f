// Wire messages of the Montage signalling protocol, version 1 (docs/protocol.md
// §2 and §4), as montage_core/protocol/messages.py reads and writes them.
// `parse` turns untrusted text from the receiver into a checked object or
// throws MalformedMessage saying what is wrong; nothing else reads raw JSON.

export const PROTOCOL_VERSION = 1;
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const MAX_NAME_CHARS = 64;
export const MAX_SDP_CHARS = 48 * 1024;
export const MAX_TEXT_CHARS = 500;
export const FEATURE_MUTE = "mute";
const MAX_BLOB_CHARS = 512;

export class MalformedMessage extends Error {
  constructor(reason) {
    super(reason);
    this.name = "MalformedMessage";
  }
}

function field(data, key, kind, limit) {
  if (!(key in data)) throw new MalformedMessage(`'${data.type}' message lacks '${key}'`);
  const value = data[key];
  const ok =
    kind === "int" ? Number.isInteger(value) : kind === "bool" ? typeof value === "boolean" : typeof value === kind;
  if (!ok) throw new MalformedMessage(`'${key}' must be ${kind}`);
  if (limit !== undefined && typeof value === "string" && value.length > limit) {
    throw new MalformedMessage(`'${key}' is longer than ${limit} characters`);
  }
  return value;
}

function optional(data, key, kind, limit) {
  return data[key] === undefined || data[key] === null ? null : field(data, key, kind, limit);
}

function blob(data, key) {
  const text = field(data, key, "string", MAX_BLOB_CHARS);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new MalformedMessage(`'${key}' is not base64`);
  }
  return fromBase64(text);
}

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

export function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

// What the receiver may send, and how each is checked.
const FROM_RECEIVER = {
  welcome: (d) => ({
    type: "welcome",
    version: field(d, "version", "int"),
    room: field(d, "room", "string", MAX_NAME_CHARS),
    pinRequired: field(d, "pin_required", "bool"),
  }),
  pake: (d) => ({ type: "pake", message: blob(d, "message") }),
  answer: (d) => ({
    type: "answer",
    sdp: field(d, "sdp", "string", MAX_SDP_CHARS),
    confirm: blob(d, "confirm"),
  }),
  mute: (d) => {
    const device = field(d, "device", "string", MAX_TEXT_CHARS);
    if (device !== "microphone") throw new MalformedMessage(`cannot mute '${device}'`);
    return { type: "mute", device };
  },
  stop: (d) => ({ type: "stop", reason: field(d, "reason", "string", MAX_TEXT_CHARS) }),
  bye: (d) => ({ type: "bye", reason: field(d, "reason", "string", MAX_TEXT_CHARS) }),
  error: (d) => {
    const retryAfter = d.retry_after;
    if (retryAfter !== undefined && retryAfter !== null && !(typeof retryAfter === "number" && retryAfter >= 0)) {
      throw new MalformedMessage("'retry_after' must be a number");
    }
    return {
      type: "error",
      code: field(d, "code", "string", MAX_TEXT_CHARS),
      message: field(d, "message", "string", MAX_TEXT_CHARS),
      fatal: field(d, "fatal", "bool"),
      triesLeft: optional(d, "tries_left", "int"),
      retryAfter: retryAfter ?? null,
    };
  },
};

/** One untrusted frame from the receiver → a checked message; throws MalformedMessage. */
export function parse(text) {
  if (new TextEncoder().encode(text).length > MAX_MESSAGE_BYTES) {
    throw new MalformedMessage(`message exceeds ${MAX_MESSAGE_BYTES} bytes`);
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new MalformedMessage("message is not JSON");
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new MalformedMessage("message is not a JSON object");
  }
  const reader = typeof data.type === "string" ? FROM_RECEIVER[data.type] : undefined;
  if (!reader || !Object.hasOwn(FROM_RECEIVER, data.type)) {
    throw new MalformedMessage(`unknown message type ${JSON.stringify(data.type)}`);
  }
  return reader(data);
}

// What the client sends, compact as messages.serialize writes it.
export const hello = (name, features) =>
  JSON.stringify({ type: "hello", version: PROTOCOL_VERSION, name, software: "montage-web", features });
export const pake = (message) => JSON.stringify({ type: "pake", message: toBase64(message) });
export const offer = (sdp, confirm) => JSON.stringify({ type: "offer", sdp, confirm: toBase64(confirm) });
export const share = ({ state, width, height, camera, microphone }) =>
  JSON.stringify({ type: "share", state, width, height, camera, microphone });
export const bye = (reason) => JSON.stringify({ type: "bye", reason });
