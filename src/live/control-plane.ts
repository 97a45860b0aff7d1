import type { Call } from '../domain/entities.js';

/** What a platform stream's start asks of the control plane (src/ws/platform-endpoint.ts). */
export interface StreamStartRequest {
  /** The platform's name (src/ingest/platforms.ts): a created call's `metadata.source`. */
  readonly platform: string;
  /** An explicitly chosen call id (`?call_id=`, a custom parameter), or null. */
  readonly callId: string | null;
  /** The platform's own id of the call: the call id when none was chosen. */
  readonly platformCallId: string;
  /** `?token=`, the platform's handshake credential, or the start message's: an ingest token or key. */
  readonly credential: string | null;
  readonly participants: readonly string[];
  readonly from: string | null;
  readonly to: string | null;
}

/** The call a stream feeds, and the prefix of the ingest key that authorized it (null for a call's ingest token). */
export interface StreamGrant {
  readonly call: Call;
  readonly keyPrefix: string | null;
}

/** An admitted listener's call and URL, as the database has them now. */
export type ListenerStatus = 'active' | 'ended' | 'revoked';

/**
 * What the media plane (sockets, mixing) needs of the control plane (database, authentication,
 * limits) once a socket is open. In one process these are direct calls; in a media worker they
 * are requests to the main process over the worker's channel (`MediaPool`), and a refusal comes
 * back as the same AppError.
 */
export interface ControlPlane {
  /** Refreshes the call's idle-timeout activity (ingest connected or went away). */
  touchCall(callPk: string): void;
  /** Completes the call (a platform's stop) and tells every node. */
  completeCall(call: Call): Promise<void>;
  /**
   * Checks a platform stream's start: its credential (counted as a failed authentication of
   * `address` when wrong), the call — created with an ingest key when it does not exist, never
   * reopened when completed — and the participants limit. Resolves to the call, or throws an
   * AppError. `socketId` names the socket in a media worker (the call is then placed there).
   */
  authorizeStream(address: string, start: StreamStartRequest, socketId?: number): Promise<StreamGrant>;
  /**
   * What became of an admitted listener's call and URL meanwhile: asked once the listener is
   * registered (and so subscribed to its call's events), so that one admitted just as its call
   * ended or its URL was revoked does not miss it. Rejects when the database cannot tell.
   */
  listenerStatus(callPk: string, tokenHash: string): Promise<ListenerStatus>;
}
