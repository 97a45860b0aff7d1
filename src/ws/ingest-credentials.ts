import { AppError } from '../domain/app-error.js';
import type { Call, IngestKeyGrant } from '../domain/entities.js';
import { CALL_ID_RULE, isValidCallId } from '../domain/ids.js';
import { type SignedRequest, verifyAudioHookSignature } from '../ingest/audiohook-signature.js';
import { createCallWithinLimit } from '../live/call-admission.js';
import { looksLikeIngestKey } from '../store/secrets.js';
import type { WsDeps } from './ws-deps.js';

/** What an ingest connection presents: where its audio says it belongs, and its credential. */
export interface IngestClaim {
  /** The platform (`generic` for /ws/ingest): a created call's `metadata.source`. */
  readonly platform: string;
  /** The call id chosen explicitly (the /ws/ingest path, `?call_id=`, a custom parameter), or null. */
  readonly callId: string | null;
  /** The platform's own id of the call, the call id when none was chosen; null when there is none. */
  readonly platformCallId: string | null;
  /** An ingest token or an ingest key (`?token=`, a platform's own field); null when none was presented. */
  readonly credential: string | null;
  /**
   * The upgrade's `Authorization` header where the endpoint reads one (generic ingest): an ingest
   * key, or an API key of the call's organization. Never an API key on a URL.
   */
  readonly authorization?: string | null;
  readonly from: string | null;
  readonly to: string | null;
}

/** The call a connection may feed, and the prefix of the key (ingest or API key) that authorized it. */
export interface IngestCall {
  readonly call: Call;
  readonly keyPrefix: string | null;
}

/**
 * The call an ingest connection feeds (SPEC §4.4): with a call's ingest token, that call (an
 * explicitly chosen id must be its id); with an ingest key, the call of the key's organization
 * with the chosen id or else the platform's — created by this connection when it does not exist,
 * never reopened when completed; with an API key (generic ingest only), an existing call of its
 * organization. Throws UNAUTHORIZED, CALL_NOT_FOUND, INVALID_CALL_STATUS (409 / 1008),
 * QUOTA_EXCEEDED, or INVALID_PAYLOAD for a platform call id that cannot be a call id.
 */
export async function resolveIngestCall(deps: WsDeps, claim: IngestClaim): Promise<IngestCall> {
  const credential = claim.credential ?? claim.authorization ?? null;
  if (credential === null) throw new AppError('UNAUTHORIZED', 'An ingest token or ingest key is required');
  if (looksLikeIngestKey(credential)) {
    const key = await deps.store.findIngestKey(credential);
    if (!key) throw new AppError('UNAUTHORIZED', 'Ingest key is unknown or revoked');
    return { call: await openCallOfKey(deps, key, claim), keyPrefix: key.prefix };
  }
  if (claim.credential === null) return callOfApiKey(deps, credential, claim.callId);
  return { call: await activeCallOfToken(deps, credential, claim.callId), keyPrefix: null };
}

/** The active call an ingest token belongs to, which must be `callId` when one is named. */
async function activeCallOfToken(deps: WsDeps, token: string, callId: string | null): Promise<Call> {
  const callPk = await deps.store.resolveIngestToken(token);
  const call = callPk === undefined ? undefined : await deps.store.getCallByPk(callPk);
  if (!call || (callId !== null && callId !== call.callId))
    throw new AppError('UNAUTHORIZED', 'Ingest token is not valid for this call');
  if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
  return call;
}

/** An existing, active call of the API key's organization (the generic endpoint's `Authorization`). */
async function callOfApiKey(deps: WsDeps, apiKey: string, callId: string | null): Promise<IngestCall> {
  const found = await deps.store.findApiKey(apiKey);
  if (!found) throw new AppError('UNAUTHORIZED', 'An ingest token, ingest key or API key is required');
  const call = callId === null ? undefined : await deps.store.getCall(found.org.id, callId);
  if (!call) throw new AppError('CALL_NOT_FOUND');
  if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
  return { call, keyPrefix: found.prefix };
}

/** Last `last_used_at` write per key prefix in this process: one write a minute per key at most. */
const touchedAt = new Map<string, number>();
const TOUCH_EVERY_MS = 60_000;

async function openCallOfKey(deps: WsDeps, key: IngestKeyGrant, claim: IngestClaim): Promise<Call> {
  const callId = claim.callId ?? claim.platformCallId;
  if (callId === null) throw new AppError('INVALID_PAYLOAD', 'The stream names no call: set call_id');
  if (!isValidCallId(callId))
    throw new AppError(
      'INVALID_PAYLOAD',
      `The platform's call id is not a valid call id (${CALL_ID_RULE}): set call_id`,
    );
  const { call, created } = await createCallWithinLimit(
    deps.store,
    key.org.id,
    { callId, from: claim.from, to: claim.to, metadata: { source: claim.platform } },
    deps.config.limits.activeCallsPerOrg,
    (limit) => deps.metrics.quotaRefusals.inc({ limit }),
  );
  if (created) deps.metrics.activeCallsChanged();
  // A completed call is never reopened: its id is spent (SPEC §4.4).
  if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
  const now = Date.now();
  if ((touchedAt.get(key.prefix) ?? 0) + TOUCH_EVERY_MS <= now) {
    touchedAt.set(key.prefix, now);
    if (touchedAt.size > 10_000) touchedAt.clear();
    deps.store
      .touchIngestKey(key.prefix)
      .catch((err) => deps.logger.warn({ err }, 'could not record an ingest key use'));
  }
  return call;
}

/**
 * The checks a platform stream's upgrade can make before its start message (SPEC §4.3: bad
 * credentials are an HTTP error, no WebSocket opened): an explicit `?call_id=` must be a call id,
 * and a credential presented on the upgrade must be a live ingest key (with a valid signature where
 * the platform signs and the key has a client secret; a call it names must not be completed) or a
 * call's ingest token (of an active call, that call when `call_id` names one). Without one, the
 * start message brings it.
 */
export async function checkStreamUpgrade(
  deps: WsDeps,
  upgrade: { credential: string | null; callId: string | null; signed: SignedRequest | null },
): Promise<void> {
  const { credential, callId, signed } = upgrade;
  if (callId !== null && !isValidCallId(callId))
    throw new AppError('VALIDATION_ERROR', `call_id must be ${CALL_ID_RULE}`);
  if (credential === null) return;
  if (looksLikeIngestKey(credential)) {
    const key = await deps.store.findIngestKey(credential);
    if (!key) throw new AppError('UNAUTHORIZED', 'Ingest key is unknown or revoked');
    if (signed && key.clientSecret !== null) checkSignature(signed, credential, key.clientSecret);
    // A completed call named on the upgrade is refused there (409), not after the start.
    const named = callId === null ? undefined : await deps.store.getCall(key.org.id, callId);
    if (named && named.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
    return;
  }
  await activeCallOfToken(deps, credential, callId);
}

/**
 * Nonces of the signatures accepted in the last NONCE_MEMORY_MS, so that a captured upgrade cannot
 * be replayed while its signature is fresh (AUDIOHOOK_SIGNATURE_MAX_AGE_S + clock skew is 13 s).
 * Per process: in a cluster a replay to another node within those seconds is not seen.
 */
const seenNonces = new Map<string, number>();
const NONCE_MEMORY_MS = 30_000;
const MAX_NONCES = 100_000;

function checkSignature(signed: SignedRequest, apiKey: string, clientSecret: string): void {
  const now = Date.now();
  const result = verifyAudioHookSignature(
    signed,
    { apiKey, clientSecret: Buffer.from(clientSecret, 'base64') },
    {
      nowS: now / 1000,
      seenNonce: (nonce) => {
        for (const [n, at] of seenNonces) {
          if (at > now - NONCE_MEMORY_MS && seenNonces.size <= MAX_NONCES) break;
          seenNonces.delete(n);
        }
        if (seenNonces.has(nonce)) return true;
        seenNonces.set(nonce, now);
        return false;
      },
    },
  );
  if (!result.ok) throw new AppError('UNAUTHORIZED', `AudioHook signature refused: ${result.reason}`);
}
