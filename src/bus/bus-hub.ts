import type { TrackFrame } from '../domain/audio-format.js';
import type { Bus, CallEvent, NodeCallStats, Unsubscribe } from './bus.js';
import type { BusInterest, HubBusMessage, WorkerBusMessage } from './ipc-bus.js';
import { MemoryBus } from './memory-bus.js';
import { encodeTrackFrame } from './track-frame-codec.js';

/** How long a stats query waits for the workers' answers (as NatsBus waits for nodes'). */
const STATS_DEADLINE_MS = 150;

/** One media worker as the hub sees it. */
export interface HubLink {
  send(message: HubBusMessage): void;
}

interface LinkState {
  readonly link: HubLink;
  /** Calls whose frames this worker must forward (another worker mixes them). */
  readonly wanted: Set<string>;
  readonly interest: Record<BusInterest, Set<string>>;
}

/**
 * The bus of the control plane on a node with media workers and no NATS: the node's "network".
 * It is the in-process MemoryBus for the main process's own subscribers, and it relays between the
 * workers' IpcBus: events go to every worker subscribed to the call (never back to their sender),
 * frames to the workers that mix the call, stats queries to the workers that answer for it.
 * Workers tell it their interest per call; it tells each worker which of its calls' frames another
 * worker wants. Delivery is at-most-once, as on every bus.
 */
export class BusHub implements Bus {
  readonly #local: MemoryBus;
  readonly #links = new Map<HubLink, LinkState>();
  readonly #pending = new Map<number, { answers: NodeCallStats[]; waiting: number; done: () => void }>();
  #nextQuery = 1;

  constructor(options: { onHandlerError?: (err: unknown) => void } = {}) {
    this.#local = new MemoryBus(options);
  }

  /** Starts relaying for a worker; returns the handler of its messages. */
  attach(link: HubLink): (message: WorkerBusMessage) => void {
    const state: LinkState = {
      link,
      wanted: new Set(),
      interest: { frames: new Set(), events: new Set(), stats: new Set() },
    };
    this.#links.set(link, state);
    // Frames some worker mixes already: the new one forwards them should it ingest such a call.
    const mixed = new Set<string>();
    for (const other of this.#links.values()) for (const pk of other.interest.frames) mixed.add(pk);
    for (const pk of mixed) this.#updateWanted(pk);
    return (message) => this.#receive(state, message);
  }

  /** Forgets a worker (it exited): its interest goes, and so does the need for its frames. */
  detach(link: HubLink): void {
    const state = this.#links.get(link);
    if (!state) return;
    this.#links.delete(link);
    for (const pk of state.interest.frames) this.#updateWanted(pk);
  }

  publishFrame(frame: TrackFrame): void {
    this.#local.publishFrame(frame);
    let data: Uint8Array | null = null;
    for (const state of this.#links.values()) {
      if (!state.interest.frames.has(frame.callPk)) continue;
      data ??= encodeTrackFrame(frame);
      state.link.send({ t: 'frame', callPk: frame.callPk, data });
    }
  }

  /** A subscriber in this process, or a worker that mixes the call. */
  wantsFrames(callPk: string): boolean {
    if (this.#local.wantsFrames(callPk)) return true;
    for (const state of this.#links.values()) if (state.interest.frames.has(callPk)) return true;
    return false;
  }

  subscribeFrames(callPk: string, handler: (frame: TrackFrame) => void): Unsubscribe {
    return this.#local.subscribeFrames(callPk, handler);
  }

  publishCallEvent(callPk: string, event: CallEvent): void {
    this.#relayEvent(null, callPk, event);
  }

  subscribeCallEvents(callPk: string, handler: (event: CallEvent) => void): Unsubscribe {
    return this.#local.subscribeCallEvents(callPk, handler);
  }

  answerCallStats(callPk: string, answer: () => NodeCallStats): Unsubscribe {
    return this.#local.answerCallStats(callPk, answer);
  }

  /** This process's answers and those of every worker that answers for the call within the deadline. */
  gatherCallStats(callPk: string): Promise<NodeCallStats[]> {
    const answers = this.#local.localCallStats(callPk);
    const asked = [...this.#links.values()].filter((s) => s.interest.stats.has(callPk));
    if (asked.length === 0) return Promise.resolve(answers);
    const id = this.#nextQuery++;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(answers);
      };
      const timer = setTimeout(done, STATS_DEADLINE_MS);
      this.#pending.set(id, { answers, waiting: asked.length, done });
      for (const state of asked) state.link.send({ t: 'stats?', id, callPk });
    });
  }

  async ping(): Promise<void> {}

  onReconnect(_listener: () => void): Unsubscribe {
    return () => {};
  }

  async close(): Promise<void> {
    for (const pending of [...this.#pending.values()]) pending.done();
    this.#links.clear();
    await this.#local.close();
  }

  #receive(state: LinkState, message: WorkerBusMessage) {
    switch (message.t) {
      case 'sub':
      case 'unsub': {
        const set = state.interest[message.kind];
        if (message.t === 'sub') set.add(message.callPk);
        else set.delete(message.callPk);
        if (message.kind === 'frames') this.#updateWanted(message.callPk);
        return;
      }
      case 'frame':
        for (const other of this.#links.values()) {
          if (other !== state && other.interest.frames.has(message.callPk))
            other.link.send({ t: 'frame', callPk: message.callPk, data: message.data });
        }
        return;
      case 'event':
        return this.#relayEvent(state, message.callPk, message.event);
      case 'gather':
        return void this.gatherCallStats(message.callPk).then((stats) =>
          state.link.send({ t: 'gathered', id: message.id, stats }),
        );
      case 'stats': {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        pending.answers.push(...message.stats);
        if (--pending.waiting === 0) pending.done();
        return;
      }
    }
  }

  #relayEvent(from: LinkState | null, callPk: string, event: CallEvent): void {
    this.#local.publishCallEvent(callPk, event);
    for (const state of this.#links.values()) {
      if (state !== from && state.interest.events.has(callPk)) state.link.send({ t: 'event', callPk, event });
    }
  }

  /** Tells each worker whether another one mixes the call (so whether to forward its frames). */
  #updateWanted(callPk: string): void {
    let mixers = 0;
    for (const state of this.#links.values()) if (state.interest.frames.has(callPk)) mixers++;
    for (const state of this.#links.values()) {
      const on = mixers - (state.interest.frames.has(callPk) ? 1 : 0) > 0;
      if (on === state.wanted.has(callPk)) continue;
      if (on) state.wanted.add(callPk);
      else state.wanted.delete(callPk);
      state.link.send({ t: 'wanted', callPk, on });
    }
  }
}
