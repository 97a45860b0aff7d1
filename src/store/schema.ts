/**
 * The tables, as Kysely sees them. Types are the lowest common denominator of SQLite and Postgres
 * (text, integer) so that one repository code path serves both dialects: timestamps are ISO 8601 UTC
 * text (they sort correctly as text), booleans are 0/1 integers, JSON is text.
 */
export interface Database {
  orgs: OrgsTable;
  api_keys: ApiKeysTable;
  calls: CallsTable;
  listen_tokens: ListenTokensTable;
  ingest_tokens: IngestTokensTable;
  ingest_keys: IngestKeysTable;
}

export interface OrgsTable {
  id: string;
  name: string;
  live_listen_enabled: number;
  created_at: string;
}

export interface ApiKeysTable {
  /** The visible start of the key (e.g. `esk_Ab3dE9fG`), used to name it for revocation. */
  prefix: string;
  org_id: string;
  /** SHA-256 of the whole key, hex. The key itself is never stored. */
  key_hash: string;
  created_at: string;
  revoked_at: string | null;
}

export interface CallsTable {
  pk: string;
  org_id: string;
  call_id: string;
  status: string;
  from_number: string | null;
  to_number: string | null;
  metadata: string | null;
  created_at: string;
  ended_at: string | null;
  /** Last time an ingest connection was known to be open for the call (idle timeout). */
  last_activity_at: string;
}

export interface ListenTokensTable {
  token_hash: string;
  call_pk: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /** Prefix of the API key that minted the token (migration 0002); null for older tokens. */
  api_key_prefix: string | null;
}

export interface IngestTokensTable {
  token_hash: string;
  call_pk: string;
  created_at: string;
}

export interface IngestKeysTable {
  /** The visible start of the key (e.g. `eik_Ab3dE9fG`), used to name it for revocation. */
  prefix: string;
  org_id: string;
  /** SHA-256 of the whole key, hex. The key itself is never stored. */
  key_hash: string;
  name: string | null;
  /**
   * The AudioHook client secret (base64, as Genesys shows it), kept as given: verifying an HMAC
   * signature needs the secret itself, not a digest of it. Null when the key has none.
   */
  client_secret: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
