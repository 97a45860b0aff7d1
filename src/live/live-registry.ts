import type { Logger } from 'pino';
import { OPUS_COMPLEXITY } from '../audio/opus.js';
import type { Bus, CallEvent, NodeCallStats } from '../bus/bus.js';
import { CloseCode } from '../domain/error-code.js';
import type { Metrics } from '../observability/metrics.js';
import {
  applyParticipantEvent,
  applyRevocation,
  type CallPresence,
  closeListenersOfTokens,
  type IngestConnection,
} from './call-presence.js';
import { CallRoom, type RoomOptions } from './call-room.js';
import type { Clock } from './clock.js';
import type { DirectWriteBatch } from './direct-write.js';
import type { IngestTrack } from './ingest-track.js';
import type { ListenerSink } from './listener.js';
import type { WriteCoalescing } from './modes.js';
import { RoomTicker } from './room-ticker.js';

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
  readonly #room: RoomOptions;

  constructor(options: {
    bus: Bus;
    clock: Clock;
    metrics: Metrics;
    log: Logger;
    writeCoalescing?: WriteCoalescing;
    /** Listener messages through the native addon (live/direct-write.ts); null: through each socket. */
    directWrites?: DirectWriteBatch | null;
    /** libopus complexity of the rooms' Opus encoders (EARSHOT_OPUS_COMPLEXITY); default OPUS_COMPLEXITY. */
    opusComplexity?: number;
  }) {
    this.#batch = options.directWrites ?? null;
    this.#room = { batch: this.#batch, opusComplexity: options.opusComplexity ?? OPUS_COMPLEXITY };
    this.#bus = options.bus;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#ticker = new RoomTicker({
      clock: options.clock,
      metrics: options.metrics,
      log: options.log,
      writeCoalescing: options.writeCoalescing ?? 'auto',
      batch: this.#batch,
    });
  }

  addListener(callPk: string, listener: ListenerSink): void {
    const presence = this.#presence(callPk);
    if (!presence.room) {
      const room = new CallRoom(callPk, this.#room);
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
        platform: t.platform,
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
    return closeListenersOfTokens(this.#calls.get(callPk), revokedTokenHashes);
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
      applyRevocation(presence, event);
    } else if (applyParticipantEvent(presence, event, () => this.#metrics.participants.dec())) {
      // Listeners see the participant's state; which connection carries it is internal.
      const { type, name, state } = event;
      presence.room?.forEachListener((l) => l.sendEvent({ type, name, state }));
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
