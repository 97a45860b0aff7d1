import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/app-error.js';

/**
 * The secret in an Authorization header: `Authorization: <key>` (Bland's form) or `Bearer <key>`.
 * Returns null when there is none.
 */
export function credentialFrom(header: string | undefined): string | null {
  if (header === undefined) return null;
  const value = header
    .trim()
    .replace(/^bearer\s+/i, '')
    .trim();
  return value === '' ? null : value;
}

/**
 * The credential of an ingest connection's Authorization header: as {@link credentialFrom}, or the
 * password of HTTP Basic (`Basic base64(user:password)`), which FreeSWITCH's mod_audio_fork and
 * jambonz send (SPEC §4.6). Null when there is none.
 */
export function ingestCredentialFrom(header: string | undefined): string | null {
  if (header === undefined) return null;
  const basic = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return credentialFrom(header);
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password === '' ? null : password;
}

/**
 * A check of an Authorization header against one fixed secret (the admin or the metrics token):
 * throws UNAUTHORIZED naming `what` unless the header carries it (`Bearer <token>` or bare).
 * Digests are compared in constant time: equal lengths, no early exit on the first differing byte.
 */
export function tokenCheck(token: string, what: string): (authorization: string | undefined) => void {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = digest(token);
  return (authorization) => {
    const presented = credentialFrom(authorization);
    if (presented === null || !timingSafeEqual(digest(presented), expected))
      throw new AppError('UNAUTHORIZED', `Missing or wrong ${what}`);
  };
}
