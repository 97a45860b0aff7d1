/** The control-plane entities as the rest of the code sees them (storage rows are mapped to these). */

export const CALL_STATUSES = ['active', 'completed'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

export interface Org {
  readonly id: string;
  readonly name: string;
  readonly liveListenEnabled: boolean;
  readonly createdAt: string;
}

export interface Call {
  /** Internal, globally unique key (bus subjects and tokens use it). */
  readonly pk: string;
  readonly orgId: string;
  /** The public id, unique within its organization; may be caller-chosen (e.g. a Twilio CallSid). */
  readonly callId: string;
  readonly status: CallStatus;
  readonly from: string | null;
  readonly to: string | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** ISO 8601 UTC timestamps. */
  readonly createdAt: string;
  readonly endedAt: string | null;
}

/** What resolving a listen token yields; the caller decides whether it is still usable. */
export interface ListenGrant {
  readonly callPk: string;
  readonly expiresAt: string;
  readonly revoked: boolean;
}

/** An ingest key as listed (SPEC §4.4): never the key itself, which is shown once. */
export interface IngestKeyInfo {
  readonly prefix: string;
  readonly name: string | null;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

/** What a live ingest key authorizes: its org, and the AudioHook client secret if it has one. */
export interface IngestKeyGrant {
  readonly org: Org;
  readonly prefix: string;
  /** Base64, as given at creation; null when none. */
  readonly clientSecret: string | null;
}
