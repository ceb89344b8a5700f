// What the page tells a person, in one place. Each failure a person can meet
// is a ShareError carrying its sentence; `kind` lets the page (and its tests)
// tell them apart without reading the words.

export class ShareError extends Error {
  /** @param {string} kind - e.g. "wrong_pin", "locked_out", "full", "no_meeting" */
  constructor(kind, sentence) {
    super(sentence);
    this.name = "ShareError";
    this.kind = kind;
  }
}

export function describeWait(seconds) {
  const whole = Math.max(1, Math.round(seconds));
  if (whole < 90) return `${whole} second${whole === 1 ? "" : "s"}`;
  const minutes = Math.round(whole / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

// A guest's wrong PINs count against every guest of the room (protocol.md §17).
export function wrongPinSentence(triesLeft) {
  const tries = `${triesLeft} ${triesLeft === 1 ? "try" : "tries"}`;
  return `Wrong PIN. ${tries} left before guests are locked out of this room for a while.`;
}

export function lockedOutSentence(seconds) {
  return `Too many wrong PINs were typed by guests of this room. Try again in ${describeWait(seconds)}.`;
}

/** A fatal `error` from the receiver → what the person is told (protocol.md §8). */
export function receiverError(error) {
  switch (error.code) {
    case "locked_out":
      return new ShareError("locked_out", lockedOutSentence(error.retryAfter ?? 0));
    case "wrong_pin":
      return new ShareError("wrong_pin", wrongPinSentence(error.triesLeft ?? 0));
    case "full":
      return new ShareError("full", `The room is full: ${error.message}`);
    case "unsupported_version":
      return new ShareError(
        "version",
        "This room runs a different version of Montage and cannot take a share from this page.",
      );
    default:
      return new ShareError("refused", `The room refused the share: ${error.message}`);
  }
}

/** The cloud's refusal of a join → what the person is told. */
export function joinRefusal(refusal) {
  const kinds = {
    meeting_not_found: "no_meeting",
    meeting_expired: "no_meeting",
    meeting_id_malformed: "no_meeting",
    guests_not_allowed: "guests_not_allowed",
    too_many_attempts: "rate_limited",
    guests_unavailable: "cloud_unavailable",
  };
  // The cloud's sentences are written for people (docs/cloud-api.md).
  return new ShareError(kinds[refusal.code] ?? "refused", refusal.message);
}

const CLOUD_DIGITS = 6;
const LOCAL_DIGITS = 10;

/** The 6-digit meeting ID a person typed, or a ShareError saying what is wrong with it. */
export function parseMeetingId(typed) {
  const digits = typed.replace(/[\s.-]/g, "");
  if (!digits) return new ShareError("bad_id", "Type the meeting ID shown on the room's display.");
  const stray = [...digits].find((char) => char < "0" || char > "9");
  if (stray !== undefined) {
    return new ShareError("bad_id", `A meeting ID has only digits; '${stray}' is not one.`);
  }
  if (digits.length === LOCAL_DIGITS) {
    return new ShareError(
      "local_id",
      "That is a 10-digit local meeting ID: this room is not connected to its cloud, so only" +
        " the Montage app on the same network can share to it.",
    );
  }
  if (digits.length !== CLOUD_DIGITS) {
    const typedCount = `${digits.length} digit${digits.length === 1 ? "" : "s"}`;
    return new ShareError("bad_id", `That meeting ID has ${typedCount}; it has ${CLOUD_DIGITS} digits.`);
  }
  if (digits.startsWith("0")) {
    return new ShareError(
      "bad_id",
      `${digits.slice(0, 3)} ${digits.slice(3)} is not a meeting ID: they never start with 0.` +
        " Check the digits on the room's display.",
    );
  }
  return digits;
}

export const SENTENCES = {
  idle: "Type the meeting ID shown on the room's display and your name, then press Share.",
  noName: "Type your name: the room shows it beside your screen.",
  badPin: "The PIN is the 4 digits shown on the room's display.",
  pickerCancelled:
    "You closed the picker without choosing a screen, window or tab. Press Share to choose again.",
  pickerNeedsClick: "Press Share again to choose what to share.",
  pickerFailed: "Your browser could not capture the screen. Try another window or tab.",
  unsupported:
    "This browser cannot share a screen from a web page. Use a current Chrome, Edge or" +
    " Chromium, or the Montage app.",
  cloudUnreachable:
    "Cannot reach the Montage cloud. Check your connection, then press Share again.",
  lostBeforeStart: "The room closed the connection before the share started. Press Share to try again.",
  lost: "Lost the connection to the room.",
  mediaLost: "Lost the media connection to the room.",
  noMediaPath:
    "Could not open a media connection to the room, not even through the cloud's relay." +
    " Your network may block it.",
  stopped: "You stopped sharing.",
  stoppedByRoom: "The room stopped your share.",
  meetingClosed: "The room closed the meeting.",
  intercepted:
    "The room could not prove it knows the PIN: the connection may be intercepted." +
    " Check the meeting ID and try again.",
  mutedByRoom: "The room turned your microphone off. Turn it on again to be heard.",
};

export function pinWanted(room) {
  return `${room} asks for its PIN: type the 4 digits shown on its display, then press Share.`;
}

export function deviceFailed(kind, error) {
  const what = kind === "camera" ? "camera" : "microphone";
  if (error?.name === "NotAllowedError") {
    return `The browser was not allowed to use your ${what}; your screen is shared without it.`;
  }
  if (error?.name === "NotFoundError" || error?.name === "OverconstrainedError") {
    return `No ${what} was found; your screen is shared without it.`;
  }
  if (error?.name === "NotReadableError") {
    return `Your ${what} is in use by another program; your screen is shared without it.`;
  }
  return `Your ${what} could not be opened (${error?.message ?? error}); your screen is shared without it.`;
}
