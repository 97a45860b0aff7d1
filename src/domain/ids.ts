/**
 * Caller-chosen call ids: 1–128 characters of [A-Za-z0-9_.:-] (e.g. a Twilio CallSid), but not `.` or
 * `..`: a URL path resolves those segments away (`/v1/calls/../listen`), so such a call could never
 * be addressed. The one definition: the request schema, every lookup and every ingest endpoint use it.
 */
export const CALL_ID_PATTERN = '^(?!\\.{1,2}$)[A-Za-z0-9_.:\\-]{1,128}$';
/** The rule of CALL_ID_PATTERN in words, for error messages. */
export const CALL_ID_RULE = "1-128 characters of [A-Za-z0-9_.:-], not '.' or '..'";
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
