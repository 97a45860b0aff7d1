import type {
  Call,
  CallStatus,
  IngestKeyGrant,
  IngestKeyInfo,
  ListenGrant,
  Org,
} from '../domain/entities.js';

/**
 * The control-plane store: one interface, implemented once over Kysely for both SQLite and Postgres
 * (see open-store.ts). The audio hot path never calls it. All timestamps are ISO 8601 UTC strings.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';

  createOrg(name: string, liveListenEnabled: boolean): Promise<Org>;
  getOrg(orgId: string): Promise<Org | undefined>;
  /** The oldest organization with exactly this name. */
  findOrgByName(name: string): Promise<Org | undefined>;
  /**
   * Sets the org's live-listen preference. Turning it off also revokes every listen token of the
   * org's calls (expired ones too), after the preference is written: a token minted meanwhile is
   * then either revoked here or refused by its minter's re-check (routes/listen.ts).
   */
  setLiveListenEnabled(orgId: string, enabled: boolean): Promise<Org | undefined>;

  /** Creates a key for the org; the returned `apiKey` is the only copy of the secret. */
  createApiKey(orgId: string): Promise<{ apiKey: string; prefix: string }>;
  /** The org a live (not revoked) key belongs to, and the key's visible prefix (which names it). */
  findApiKey(apiKey: string): Promise<{ org: Org; prefix: string } | undefined>;
  /**
   * Revokes the live key with this visible prefix, then every listen token it minted (expired ones
   * too; in that order, as for `setLiveListenEnabled`). Returns the key's org; undefined when there
   * is no such live key.
   */
  revokeApiKey(prefix: string): Promise<{ orgId: string } | undefined>;

  /** Creates an ingest key for the org; the returned `ingestKey` is the only copy of the secret. */
  createIngestKey(
    orgId: string,
    input: { name: string | null; clientSecret: string | null },
  ): Promise<IngestKeyInfo & { ingestKey: string }>;
  /** The org's live ingest keys, newest first. */
  listIngestKeys(orgId: string): Promise<IngestKeyInfo[]>;
  /** What a live (not revoked) ingest key authorizes; undefined for an unknown or revoked one. */
  findIngestKey(ingestKey: string): Promise<IngestKeyGrant | undefined>;
  /** Records a use of the key (`last_used_at`), at most about once a minute per key in practice. */
  touchIngestKey(prefix: string): Promise<void>;
  /**
   * Revokes the live ingest key with this prefix — of `orgId` only, when given. Returns its org;
   * undefined when there is no such live key.
   */
  revokeIngestKey(prefix: string, orgId?: string): Promise<{ orgId: string } | undefined>;

  /** Idempotent on (org, callId): returns the existing call with `created: false`. */
  createCall(orgId: string, input: NewCall): Promise<{ call: Call; created: boolean }>;
  getCall(orgId: string, callId: string): Promise<Call | undefined>;
  getCallByPk(pk: string): Promise<Call | undefined>;
  listCalls(orgId: string, query: CallQuery): Promise<{ calls: Call[]; nextCursor: string | null }>;
  /** Marks the call completed (idempotent); `changed` says whether this call did it. */
  completeCall(pk: string): Promise<{ call: Call; changed: boolean } | undefined>;
  /** Records that ingest is connected for these calls now (drives the idle timeout). */
  touchCalls(pks: readonly string[]): Promise<void>;
  /** Active calls whose last ingest activity is older than `before`. */
  findIdleCalls(before: string, limit: number): Promise<Call[]>;
  /** Active calls, of every organization or of one. */
  countActiveCalls(orgId?: string): Promise<number>;
  /** Internal keys of the org's active calls. */
  activeCallPks(orgId: string): Promise<string[]>;

  /** `apiKeyPrefix`: the key that minted it (revoking that key revokes the token). */
  createListenToken(callPk: string, expiresAt: string, apiKeyPrefix?: string | null): Promise<string>;
  resolveListenToken(token: string): Promise<ListenGrant | undefined>;
  /** Revokes every listen token of the call; returns how many were live. */
  revokeListenTokens(callPk: string): Promise<number>;
  /**
   * Hashes (`hashSecret`) of the call's revoked listen tokens: lets a node that missed a `revoked`
   * event (cut off from NATS) find the listeners it should have closed.
   */
  revokedListenTokenHashes(callPk: string): Promise<string[]>;
  /** Hashes of the listen tokens the key minted on calls that are still active, revoked or not. */
  listenTokensOfApiKey(prefix: string): Promise<{ callPk: string; tokenHash: string }[]>;
  createIngestToken(callPk: string): Promise<string>;
  /** The call an ingest token belongs to. */
  resolveIngestToken(token: string): Promise<string | undefined>;

  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface NewCall {
  readonly callId?: string;
  readonly from?: string | null;
  readonly to?: string | null;
  readonly metadata?: Record<string, unknown> | null;
}

export interface CallQuery {
  readonly status?: CallStatus;
  readonly limit: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  readonly cursor?: string;
}

/** Thrown for a cursor that was not produced by listCalls. */
export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not valid');
    this.name = 'InvalidCursorError';
  }
}

/** Whether an error means the database is unreachable or overloaded (HTTP 503), not a bug (500). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      'SQLITE_BUSY',
      'SQLITE_LOCKED',
    ].includes(code)
  ) {
    return true;
  }
  // Postgres SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P (operator intervention).
  if (/^(08|53|57P)/.test(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  );
}
