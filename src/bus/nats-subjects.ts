/**
 * How earshot names things on NATS (docs/architecture.md, "Subjects"): `<prefix>.audio.track.v1.<pk>.<participant>`
 * for a participant's frames, `<prefix>.call.<pk>.events` and `.stats` for a call's control
 * messages. Every token is checked or encoded so that no name can become a wildcard or a new level.
 */
const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;

/** NATS subject prefix: dot-separated tokens of `[A-Za-z0-9_-]`. */
export const SAFE_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** A participant name as one subject token: `.`, wildcards, whitespace and `%` percent-encoded. */
export function encodeToken(name: string): string {
  return SAFE_TOKEN.test(name)
    ? name
    : name.replace(/[^A-Za-z0-9_-]/g, (c) =>
        [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
      );
}

/** A call's internal key as a subject token (it always is one: UUIDv7); throws otherwise. */
function checkKey(callPk: string): string {
  if (!SAFE_TOKEN.test(callPk)) throw new Error(`call key "${callPk}" cannot be a NATS subject token`);
  return callPk;
}

/** The subject of one participant's frames (`participantToken` from `encodeToken`). */
export function frameSubject(prefix: string, callPk: string, participantToken: string): string {
  return `${prefix}.audio.track.v1.${checkKey(callPk)}.${participantToken}`;
}

/** The subject of a call's control events or stats queries. */
export function callSubject(prefix: string, callPk: string, kind: 'events' | 'stats'): string {
  return `${prefix}.call.${checkKey(callPk)}.${kind}`;
}
