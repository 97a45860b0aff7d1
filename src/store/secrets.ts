import { createHash, randomBytes } from 'node:crypto';

/** API keys look like `esk_<43 base64url chars>` (256 random bits); the first 12 characters are the visible prefix. */
const API_KEY_PREFIX_LENGTH = 12;
const API_KEY_MARK = 'esk_';

/** A new API key from the CSPRNG, with its visible prefix and its storage hash. */
export function newApiKey(): { apiKey: string; prefix: string; hash: string } {
  const apiKey = API_KEY_MARK + randomBytes(32).toString('base64url');
  return { apiKey, prefix: apiKey.slice(0, API_KEY_PREFIX_LENGTH), hash: hashSecret(apiKey) };
}

/** Ingest keys look like `eik_<43 base64url chars>`, prefixed like API keys (SPEC §4.4). */
const INGEST_KEY_MARK = 'eik_';

/** A new ingest key from the CSPRNG, with its visible prefix and its storage hash. */
export function newIngestKey(): { ingestKey: string; prefix: string; hash: string } {
  const ingestKey = INGEST_KEY_MARK + randomBytes(32).toString('base64url');
  return { ingestKey, prefix: ingestKey.slice(0, API_KEY_PREFIX_LENGTH), hash: hashSecret(ingestKey) };
}

/** Whether a credential has the form of an ingest key (it may still be unknown or revoked). */
export function looksLikeIngestKey(credential: string): boolean {
  return credential.startsWith(INGEST_KEY_MARK);
}

/** A new bearer token (listen or ingest) from the CSPRNG: 256 bits, base64url. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashSecret(token) };
}

/**
 * Secrets are stored and compared only as SHA-256 digests. A fast hash is right here (unlike for
 * passwords): every secret carries 256 random bits, so there is nothing to brute-force, and lookups
 * by digest compare no secret bytes in user-controlled time.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
