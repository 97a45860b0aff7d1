import type { Logger } from 'pino';
import type { Bus, CallEvent, NodeCallStats, Unsubscribe } from '../bus/bus.js';
import { CloseCode } from '../domain/error-code.js';
import type { Metrics } from '../observability/metrics.js';
import { CallRoom } from './call-room.js';
import type { Clock } from './clock.js';
import type { DirectWriteBatch } from './direct-write.js';
import type { FanoutPool } from './fanout-pool.js';
import type { IngestTrack } from './ingest-track.js';
import type { ListenerSink } from './listener.js';
import type { WriteCoalescing } from './modes.js';
import { RoomTicker } from './room-ticker.js';

/** An open ingest connection, as the registry needs to see it. */
export interface IngestConnection {
  readonly tracks: readonly IngestTrack[];
  /** Prefix of the API key that authenticated it (revoking the key closes it); null for a token. */
  readonly apiKeyPrefix?: string | null;
  /** Closes the socket (idempotent). */
  close(code: number, reason: string): void;
}

interface CallPresence {
  room: CallRoom | null;
  unsubscribeFrames: Unsubscribe | null;
  readonly unsubscribeEvents: Unsubscribe;
  readonly unsubscribeStats: Unsubscribe;
  readonly ingests: Set<IngestConnection>;
  /** Every participant ingested on this node during the call (also after it disconnected). */
  readonly tracks: Map<string, IngestTrack>;
  /** Participant name → the ingest connection of its latest `joined` heard on the bus (any node). */
  readonly carriers: Map<string, string>;
  /** The call has ended: forget it as soon as its sockets are gone, participants or not. */
  ended: boolean;
}

/**
 * What this node has live, per call: listeners (in a CallRoom, mixed on the process clock) and
 * ingest connections. It subscribes to a call's frames only while it has listeners for it, and to
 * the call's events while it has anything for it; call events close the sockets. While it has
 * anything for a call it also answers the cluster's stats queries about it (ClusterCallStats).
 */
export class LiveRegistry {
  readonly #bus: Bus;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #calls = new Map<string, CallPresence>();
  readonly #ticker: RoomTicker;
  readonly #batch: DirectWriteBatch | null;

  constructor(options: {
    bus: Bus;
    clock: Clock;
    metrics: Metrics;
    log: Logger;
    writeCoalescing?: WriteCoalescing;
    /** Listener messages through the native addon (live/direct-write.ts); null: through each socket. */
    directWrites?: DirectWriteBatch | null;
    /** Listener sockets owned by worker processes; their tick messages go out after every room. */
    fanout?: FanoutPool | null;
  }) {
    this.#batch = options.directWrites ?? null;
    this.#bus = options.bus;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#ticker = new RoomTicker({
      clock: options.clock,
      metrics: options.metrics,
      log: options.log,
      writeCoalescing: options.writeCoalescing ?? 'auto',
      batch: this.#batch,
      fanout: options.fanout ?? null,
    });
  }

  addListener(callPk: string, listener: ListenerSink): void {
    const presence = this.#presence(callPk);
    if (!presence.room) {
      const room = new CallRoom(callPk, this.#batch);
      presence.room = room;
      presence.unsubscribeFrames = this.#bus.subscribeFrames(callPk, (frame) => room.onFrame(frame));
      this.#ticker.add(room);
    }
    presence.room.addListener(listener);
    this.#metrics.listeners.inc();
    listener.onClose(() => this.#removeListener(callPk, listener));
  }

  addIngest(callPk: string, connection: IngestConnection): void {
    const presence = this.#presence(callPk);
    presence.ingests.add(connection);
  }

  /**
   * Registers a participant track of an ingest connection; announces it to every node. A connection
   * that already carries the same participant, on this node or another, is taken over (each node
   * closes its own on hearing the `joined`: #takeOver).
   */
  addTrack(track: IngestTrack): void {
    this.#presence(track.callPk).tracks.set(track.name, track);
    this.#metrics.participants.inc();
    const { name, connectionId } = track;
    this.#bus.publishCallEvent(track.callPk, { type: 'participant', name, state: 'joined', connectionId });
  }

  /** Marks a participant track disconnected; announces it. Idempotent. */
  endTrack(track: IngestTrack): void {
    if (!track.connected) return;
    track.connected = false;
    this.#metrics.participants.dec();
    const { name, connectionId } = track;
    this.#bus.publishCallEvent(track.callPk, { type: 'participant', name, state: 'left', connectionId });
  }

  removeIngest(callPk: string, connection: IngestConnection): void {
    const presence = this.#calls.get(callPk);
    if (!presence) return;
    presence.ingests.delete(connection);
    for (const track of connection.tracks) this.endTrack(track);
    this.#release(callPk, presence);
  }

  /** Calls this node has anything live for (listeners or ingest). */
  liveCalls(): string[] {
    return [...this.#calls.keys()];
  }

  /** Calls with ingest connected on this node now (their activity keeps them from idling out). */
  callsWithIngest(): string[] {
    return [...this.#calls].filter(([, p]) => p.ingests.size > 0).map(([pk]) => pk);
  }

  /** What this node has live for the call: its listeners, the tracks ingested here, what its mixer heard. */
  nodeStats(callPk: string): NodeCallStats {
    const presence = this.#calls.get(callPk);
    if (!presence) return { listeners: 0, tracks: [], heard: [] };
    return {
      listeners: presence.room?.listenerCount ?? 0,
      tracks: [...presence.tracks.values()].map((t) => ({
        name: t.name,
        encoding: t.encoding,
        sampleRateHz: t.sampleRateHz,
        connected: t.connected,
        framesIn: t.framesIn,
      })),
      heard: presence.room?.heardStats() ?? [],
    };
  }

  /** Calls with listeners on this node. */
  callsWithListeners(): string[] {
    return [...this.#calls].filter(([, p]) => p.room).map(([pk]) => pk);
  }

  /**
   * Closes with 4001 the listeners of a call that connected with one of `revokedTokenHashes`
   * (a revocation this node did not hear); returns how many.
   */
  closeRevoked(callPk: string, revokedTokenHashes: Iterable<string>): number {
    const revoked = new Set(revokedTokenHashes);
    const gone: ListenerSink[] = [];
    this.#calls.get(callPk)?.room?.forEachListener((l) => {
      if (revoked.has(l.tokenHash)) gone.push(l);
    });
    for (const listener of gone) listener.close(CloseCode.REVOKED, 'revoked');
    return gone.length;
  }

  /** Closes every socket (server shutdown: 1001). */
  closeAll(code: number, reason: string): void {
    for (const presence of [...this.#calls.values()]) {
      presence.room?.forEachListener((l) => l.close(code, reason));
      for (const ingest of [...presence.ingests]) ingest.close(code, reason);
    }
  }

  #presence(callPk: string): CallPresence {
    let presence = this.#calls.get(callPk);
    if (!presence) {
      presence = {
        room: null,
        unsubscribeFrames: null,
        unsubscribeEvents: this.#bus.subscribeCallEvents(callPk, (event) => this.#onCallEvent(callPk, event)),
        unsubscribeStats: this.#bus.answerCallStats(callPk, () => this.nodeStats(callPk)),
        ingests: new Set(),
        tracks: new Map(),
        carriers: new Map(),
        ended: false,
      };
      this.#calls.set(callPk, presence);
    }
    return presence;
  }

  #onCallEvent(callPk: string, event: CallEvent): void {
    const presence = this.#calls.get(callPk);
    if (!presence) return;
    if (event.type === 'ended') {
      presence.ended = true;
      presence.room?.forEachListener((l) => l.close(CloseCode.NORMAL, 'call ended'));
      for (const ingest of [...presence.ingests]) ingest.close(CloseCode.NORMAL, 'call ended');
      this.#release(callPk, presence);
    } else if (event.type === 'revoked') {
      const { tokenHashes, apiKeyPrefix } = event;
      if (tokenHashes === undefined && apiKeyPrefix === undefined) {
        presence.room?.forEachListener((l) => l.close(CloseCode.REVOKED, 'revoked'));
        return;
      }
      if (tokenHashes !== undefined) this.closeRevoked(callPk, tokenHashes);
      if (apiKeyPrefix !== undefined) {
        for (const ingest of [...presence.ingests]) {
          if (ingest.apiKeyPrefix === apiKeyPrefix) ingest.close(CloseCode.REVOKED, 'revoked');
        }
      }
    } else if (this.#onParticipant(presence, event)) {
      // Listeners see the participant's state; which connection carries it is internal.
      const { type, name, state } = event;
      presence.room?.forEachListener((l) => l.sendEvent({ type, name, state }));
    }
  }

  /**
   * A participant joined or left somewhere in the cluster. A `joined` takes the participant over
   * from every other connection of this node that carries it; a `left` of a connection that was
   * taken over meanwhile is stale (from a node that had not yet heard the `joined`) and is not
   * announced. Returns whether listeners hear of it.
   */
  #onParticipant(presence: CallPresence, event: Extract<CallEvent, { type: 'participant' }>): boolean {
    const { name, connectionId } = event;
    if (event.state === 'joined') {
      if (connectionId !== undefined) {
        presence.carriers.set(name, connectionId);
        this.#takeOver(presence, name, connectionId);
      }
      // A new stream starts (at seq 0): what the room still holds of an older one would hold it up.
      presence.room?.restartTrack(name);
      return true;
    }
    const carrier = presence.carriers.get(name);
    if (connectionId !== undefined && carrier !== undefined && carrier !== connectionId) return false;
    presence.carriers.delete(name);
    return true;
  }

  /**
   * Closes with 4002 "replaced" this node's connections that carry participant `name` and are not
   * `connectionId`. Their track stops at once and never announces `left` (the participant is still
   * there); the connection's other participants, if any, leave as it closes.
   */
  #takeOver(presence: CallPresence, name: string, connectionId: string): void {
    for (const ingest of [...presence.ingests]) {
      for (const track of ingest.tracks) {
        if (track.name !== name || track.connectionId === connectionId || !track.connected) continue;
        track.connected = false;
        this.#metrics.participants.dec();
        ingest.close(CloseCode.REPLACED, 'replaced');
      }
    }
  }

  #removeListener(callPk: string, listener: ListenerSink): void {
    const presence = this.#calls.get(callPk);
    const room = presence?.room;
    if (!presence || !room) return;
    this.#metrics.listeners.dec();
    if (room.removeListener(listener) > 0) return;
    presence.unsubscribeFrames?.();
    presence.unsubscribeFrames = null;
    presence.room = null;
    this.#ticker.delete(room);
    this.#release(callPk, presence);
  }

  /** Forgets a call once nothing on this node refers to it. */
  #release(callPk: string, presence: CallPresence): void {
    if (presence.room || presence.ingests.size > 0) return;
    // Participants that were ingested here stay listed (connected: false) while the call lasts.
    if (presence.tracks.size > 0 && !presence.ended) return;
    if (this.#calls.get(callPk) !== presence) return;
    presence.unsubscribeEvents();
    presence.unsubscribeStats();
    this.#calls.delete(callPk);
  }
}
