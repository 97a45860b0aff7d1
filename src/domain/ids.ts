/** Caller-chosen call ids: 1–128 characters of [A-Za-z0-9_.:-] (e.g. a Twilio CallSid). */
export const CALL_ID_PATTERN = '^[A-Za-z0-9_.:\\-]{1,128}$';
const callIdRe = new RegExp(CALL_ID_PATTERN);

export function isValidCallId(id: string): boolean {
  return callIdRe.test(id);
}

/** Participant names: 1–64 characters of [A-Za-z0-9_.-]. */
export const PARTICIPANT_PATTERN = '^[A-Za-z0-9_.\\-]{1,64}$';
const participantRe = new RegExp(PARTICIPANT_PATTERN);

export function isValidParticipant(name: string): boolean {
  return participantRe.test(name);
}
