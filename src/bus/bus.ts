import type { TrackFrame } from '../domain/audio-format.js';

/** Control events of one call, published on `call.<call>.events` (all nodes hear them). */
export type CallEvent =
  /** The call completed: every listener closes with 1000 "call ended". */
  | { readonly type: 'ended' }
  /**
   * Listen URLs or credentials of the call were revoked; what they admitted closes with 4001
   * "revoked". Without selectors: every listener of the call (all its URLs were revoked). With
   * selectors, only what they name: the listeners that connected with one of `tokenHashes`
   * (`hashSecret` of the listen token) and the ingest sockets authenticated by the API key with
   * prefix `apiKeyPrefix`.
   */
  | {
      readonly type: 'revoked';
      readonly tokenHashes?: readonly string[];
      readonly apiKeyPrefix?: string;
    }
  /**
   * A participant's ingest connected or went away (on whichever node carries it). `connectionId`
   * names the ingest connection that carries it: a `joined` takes the participant over from any
   * other connection that carries the same name (each node closes its own with 4002 "replaced"),
   * and a `left` of a connection that was taken over is stale. Listeners get only type, name, state.
   */
  | {
      readonly type: 'participant';
      readonly name: string;
      readonly state: 'joined' | 'left';
      readonly connectionId?: string;
    };

export type Unsubscribe = () => void;

/** One participant ingested on the answering node, as it reports it. */
export interface NodeTrackStats {
  readonly name: string;
  readonly platform: string;
  readonly encoding: string;
  readonly sampleRateHz: number;
  readonly connected: boolean;
  readonly framesIn: number;
}

/** What one participant's jitter buffer saw on a node that mixes the call for its listeners. */
export interface NodeHeardStats {
  readonly name: string;
  readonly framesLate: number;
  readonly framesLost: number;
  /** The delay the jitter buffer adds now, in ms (its depth × 20 ms; 0 while it does not play). */
  readonly bufferMs: number;
}

/**
 * What one node has live for a call: its listener count, the participants ingested there, and what
 * its mixer heard of every participant (wherever ingested). Plain JSON: it crosses the network.
 */
export interface NodeCallStats {
  readonly listeners: number;
  readonly tracks: readonly NodeTrackStats[];
  readonly heard: readonly NodeHeardStats[];
}

/**
 * How audio frames and call events travel between the nodes of a cluster (or within one process).
 * Delivery is at-most-once and never blocks the publisher: real-time audio that is late is useless,
 * so an implementation drops (and counts) rather than queue without bound. Calls are named by their
 * internal key (`Call.pk`), which is unique across organizations.
 */
export interface Bus {
  /**
   * Publishes one participant frame of a call. Must not throw. The frame's samples belong to the
   * publisher again once this returns (it may reuse them): handlers copy what they keep.
   */
  publishFrame(frame: TrackFrame): void;
  /**
   * Whether a published frame of the call may reach anyone: false only where the bus knows that
   * nothing subscribes to it (so an ingest track may skip its audio work: live/ingest-track.ts).
   * A bus that cannot know (NATS: another node may mix the call) answers true.
   */
  wantsFrames(callPk: string): boolean;
  /** Receives every participant frame of the call until unsubscribed. */
  subscribeFrames(callPk: string, handler: (frame: TrackFrame) => void): Unsubscribe;
  publishCallEvent(callPk: string, event: CallEvent): void;
  subscribeCallEvents(callPk: string, handler: (event: CallEvent) => void): Unsubscribe;
  /**
   * While subscribed, this node answers stats queries about the call with `answer()` (called on each
   * query, off the audio path).
   */
  answerCallStats(callPk: string, answer: () => NodeCallStats): Unsubscribe;
  /**
   * Asks every node (this one included) what it has live for the call. Resolves within a short
   * deadline with the answers that arrived (never rejects): a node that is slow or unreachable is
   * simply missing from the result.
   */
  gatherCallStats(callPk: string): Promise<NodeCallStats[]>;
  /** Throws when the bus cannot carry messages between nodes right now (readiness). */
  ping(): Promise<void>;
  /**
   * Runs `listener` each time the bus has reconnected after losing its connection: messages may
   * have been missed meanwhile, so the node reconciles with the store. A bus that cannot lose its
   * connection (in process) never calls it.
   */
  onReconnect(listener: () => void): Unsubscribe;
  close(): Promise<void>;
}
