import type { Call } from '../domain/entities.js';

/** What a Twilio `start` event asks of the control plane. */
export interface TwilioStart {
  readonly callId: string;
  readonly token: string;
  readonly participants: readonly string[];
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
  /** Completes the call (a Twilio `stop`) and tells every node. */
  completeCall(call: Call): Promise<void>;
  /**
   * Checks a Twilio `start`: its token (counted as a failed authentication of `address` when
   * wrong), the call's status, and the participants limit. Resolves to the call, or throws an
   * AppError. `socketId` names the socket in a media worker (the call is then placed there).
   */
  authorizeTwilio(address: string, start: TwilioStart, socketId?: number): Promise<Call>;
  /**
   * What became of an admitted listener's call and URL meanwhile: asked once the listener is
   * registered (and so subscribed to its call's events), so that one admitted just as its call
   * ended or its URL was revoked does not miss it. Rejects when the database cannot tell.
   */
  listenerStatus(callPk: string, tokenHash: string): Promise<ListenerStatus>;
}
