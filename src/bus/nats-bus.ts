import type { Logger } from 'pino';
import type { TrackFrame } from '../domain/audio-format.js';
import type { Bus, CallEvent, NodeCallStats, Unsubscribe } from './bus.js';
import { parseCallEvent, parseNodeStats } from './call-message-codec.js';
import { MemoryBus } from './memory-bus.js';
import { NatsLink } from './nats-link.js';
import { callSubject, encodeToken, frameSubject, SAFE_PREFIX } from './nats-subjects.js';
import { createScratchFrame, decodeTrackFrame, encodeTrackFrame } from './track-frame-codec.js';

/** Why a frame did not leave this node (the reason label of earshot_frames_dropped_total). */
export type BusDropReason = 'bus_unavailable' | 'bus_backlog' | 'bus_malformed';

export interface NatsBusOptions {
  /** `nats://host:port` URLs (EARSHOT_NATS_URL). */
  readonly servers: readonly string[];
  /** First subject token(s) of everything this bus sends (EARSHOT_NATS_PREFIX), e.g. `earshot`. */
  readonly prefix: string;
  readonly log: Logger;
  /** Counts frames that were not sent to (or not accepted from) other nodes. Called on the audio path. */
  readonly onFrameDropped?: (reason: BusDropReason) => void;
  /** Longest a stats query waits for answers (ms); default 150. */
  readonly statsTimeoutMs?: number;
  /** After the last answer, how long a stats query waits for another (ms); default 100. */
  readonly statsStallMs?: number;
  /** Reconnect backoff: first delay and cap (ms); defaults 250 and 2000, each with ±25 % jitter. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
}

/** Frames are dropped (not queued) once the socket to NATS holds this much unsent data. */
const MAX_SOCKET_BACKLOG_BYTES = 4 * 1024 * 1024;
/** Control events published while disconnected wait for the reconnect, up to this many (oldest dropped). */
const MAX_QUEUED_EVENTS = 1000;

/**
 * The cluster bus over NATS core (at-most-once). Same-node delivery never touches NATS: publishers
 * hand frames and events to an in-process MemoryBus (zero copy) and also publish them to NATS,
 * whose connection uses `noEcho`, so a node never hears its own messages back. Hence audio between
 * an ingest and a listener on the same node keeps flowing while NATS is down.
 *
 * Subjects (`<p>` = prefix, `<pk>` = the call's internal key):
 * - `<p>.audio.track.v1.<pk>.<participant>`: frames, binary (track-frame-codec.ts); the participant
 *   token is percent-encoded (`.` → `%2E`), the payload carries the exact name.
 * - `<p>.call.<pk>.events`: CallEvent as JSON.
 * - `<p>.call.<pk>.stats`: request/reply; each node with something live for the call answers a JSON
 *   array of NodeCallStats.
 *
 * A node subscribes to a call's subjects only while something on it subscribes locally (reference
 * counted), with callback subscriptions (no queues). While disconnected, frames are dropped and
 * counted rather than buffered; control events are kept (bounded) and sent after the reconnect.
 */
export class NatsBus implements Bus {
  readonly #link: NatsLink;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #local: MemoryBus;
  readonly #onFrameDropped: (reason: BusDropReason) => void;
  readonly #statsTimeoutMs: number;
  readonly #statsStallMs: number;
  readonly #queuedEvents: { subject: string; payload: string }[] = [];

  private constructor(link: NatsLink, options: NatsBusOptions) {
    this.#link = link;
    this.#prefix = options.prefix;
    this.#log = options.log;
    this.#onFrameDropped = options.onFrameDropped ?? (() => {});
    this.#statsTimeoutMs = options.statsTimeoutMs ?? 150;
    this.#statsStallMs = options.statsStallMs ?? 100;
    this.#local = new MemoryBus({ onHandlerError: (err) => this.#log.error({ err }, 'bus handler failed') });
    // First on reconnect, before the node's own listeners: the events held while NATS was away.
    link.onReconnect(() => this.#flushQueuedEvents());
  }

  /**
   * Connects (failing fast, with the servers named, when none is reachable now) and returns the bus.
   * Later outages are survived: the client reconnects forever with backoff and jitter.
   */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    if (!SAFE_PREFIX.test(options.prefix)) throw new Error(`invalid NATS subject prefix "${options.prefix}"`);
    return new NatsBus(await NatsLink.connect(options), options);
  }

  /** Calls `listener` after each reconnect to NATS (messages may have been missed meanwhile). */
  onReconnect(listener: () => void): Unsubscribe {
    return this.#link.onReconnect(listener);
  }

  /** Whether the connection to NATS is up now. */
  get connected(): boolean {
    return this.#link.connected;
  }

  publishFrame(frame: TrackFrame): void {
    this.#local.publishFrame(frame);
    if (!this.#link.connected) {
      this.#onFrameDropped('bus_unavailable');
      return;
    }
    if (this.#link.socketBacklogBytes() > MAX_SOCKET_BACKLOG_BYTES) {
      this.#onFrameDropped('bus_backlog');
      return;
    }
    const subject = this.#frameSubject(frame.callPk, encodeToken(frame.participant));
    if (!this.#link.tryPublish(subject, encodeTrackFrame(frame))) this.#onFrameDropped('bus_unavailable');
  }

  /** Always: another node may mix the call, and NATS has no cheap way to ask. */
  wantsFrames(_callPk: string): boolean {
    return true;
  }

  subscribeFrames(callPk: string, handler: (frame: TrackFrame) => void): Unsubscribe {
    const off = this.#local.subscribeFrames(callPk, handler);
    const scratch = createScratchFrame(callPk);
    const release = this.#link.retain(this.#frameSubject(callPk, '*'), (msg) => {
      if (!decodeTrackFrame(msg.data, scratch)) {
        this.#onFrameDropped('bus_malformed');
        return;
      }
      // The scratch frame is reused for the next message: the contract lets handlers see it only now.
      this.#local.publishFrame(scratch);
    });
    return once(() => {
      off();
      release();
    });
  }

  publishCallEvent(callPk: string, event: CallEvent): void {
    this.#local.publishCallEvent(callPk, event);
    const subject = this.#callSubject(callPk, 'events');
    const payload = JSON.stringify(event);
    if (this.#link.connected && this.#link.tryPublish(subject, payload)) return;
    if (this.#queuedEvents.length >= MAX_QUEUED_EVENTS) {
      this.#queuedEvents.shift();
      this.#log.warn('NATS unavailable: dropped the oldest queued call event');
    }
    this.#queuedEvents.push({ subject, payload });
  }

  subscribeCallEvents(callPk: string, handler: (event: CallEvent) => void): Unsubscribe {
    const off = this.#local.subscribeCallEvents(callPk, handler);
    const release = this.#link.retain(this.#callSubject(callPk, 'events'), (msg) => {
      const event = parseCallEvent(msg.data);
      if (event) this.#local.publishCallEvent(callPk, event);
      else this.#log.warn({ subject: msg.subject }, 'ignored a malformed call event');
    });
    return once(() => {
      off();
      release();
    });
  }

  answerCallStats(callPk: string, answer: () => NodeCallStats): Unsubscribe {
    const off = this.#local.answerCallStats(callPk, answer);
    const release = this.#link.retain(this.#callSubject(callPk, 'stats'), (msg) => {
      if (!msg.reply) return;
      try {
        msg.respond(JSON.stringify(this.#local.localCallStats(callPk)));
      } catch (err) {
        this.#log.warn({ err }, 'could not answer a call stats query');
      }
    });
    return once(() => {
      off();
      release();
    });
  }

  /**
   * Scatter-gather over NATS (`requestMany`, stall strategy): answers are taken until
   * `statsStallMs` pass without one, and never past `statsTimeoutMs` in all. With nobody else
   * subscribed the server answers "no responders" at once, and this node's own answer is all there is.
   */
  async gatherCallStats(callPk: string): Promise<NodeCallStats[]> {
    const answers = this.#local.localCallStats(callPk);
    if (!this.#link.connected) return answers;
    const deadline = performance.now() + this.#statsTimeoutMs;
    try {
      const replies = await this.#link.nc.requestMany(this.#callSubject(callPk, 'stats'), undefined, {
        strategy: 'stall',
        stall: this.#statsStallMs,
        maxWait: this.#statsTimeoutMs,
      });
      for await (const msg of replies) {
        answers.push(...parseNodeStats(msg.data));
        if (performance.now() >= deadline) break;
      }
    } catch {
      // No responders, or the connection went away meanwhile: what arrived is the answer.
    }
    return answers;
  }

  ping(): Promise<void> {
    return this.#link.ping();
  }

  /** Drains the connection (what was published is sent), then closes it. Idempotent. */
  async close(): Promise<void> {
    await this.#link.close();
    await this.#local.close();
  }

  #frameSubject(callPk: string, participantToken: string): string {
    return frameSubject(this.#prefix, callPk, participantToken);
  }

  #callSubject(callPk: string, kind: 'events' | 'stats'): string {
    return callSubject(this.#prefix, callPk, kind);
  }

  #flushQueuedEvents(): void {
    while (this.#queuedEvents.length > 0) {
      const { subject, payload } = this.#queuedEvents[0];
      if (!this.#link.tryPublish(subject, payload)) return;
      this.#queuedEvents.shift();
    }
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
