import type { TrackFrame } from '../domain/audio-format.js';
import type { Bus, CallEvent, NodeCallStats, Unsubscribe } from './bus.js';
import { MemoryBus } from './memory-bus.js';
import { createScratchFrame, decodeTrackFrame, encodeTrackFrame } from './track-frame-codec.js';

/** What a media worker subscribes to per call (the hub keeps interest per worker). */
export type BusInterest = 'frames' | 'events' | 'stats';

/** From a media worker's IpcBus to the main process's BusHub. */
export type WorkerBusMessage =
  | { readonly t: 'sub'; readonly kind: BusInterest; readonly callPk: string }
  | { readonly t: 'unsub'; readonly kind: BusInterest; readonly callPk: string }
  /** A frame of a call that another worker mixes (`track-frame-codec` bytes). */
  | { readonly t: 'frame'; readonly callPk: string; readonly data: Uint8Array }
  | { readonly t: 'event'; readonly callPk: string; readonly event: CallEvent }
  | { readonly t: 'stats'; readonly id: number; readonly stats: readonly NodeCallStats[] }
  /** Gather every process's stats for the call (the hub answers with `gathered`). */
  | { readonly t: 'gather'; readonly id: number; readonly callPk: string };

/** From the hub to one worker. */
export type HubBusMessage =
  | { readonly t: 'frame'; readonly callPk: string; readonly data: Uint8Array }
  | { readonly t: 'event'; readonly callPk: string; readonly event: CallEvent }
  /** Whether some other worker mixes the call, i.e. whether this one must forward its frames. */
  | { readonly t: 'wanted'; readonly callPk: string; readonly on: boolean }
  | { readonly t: 'stats?'; readonly id: number; readonly callPk: string }
  | { readonly t: 'gathered'; readonly id: number; readonly stats: readonly NodeCallStats[] };

/**
 * The bus of a media worker on a node without NATS: delivery inside the worker is the in-process
 * MemoryBus (synchronous, zero copy); what other workers or the control plane need goes to the main
 * process's BusHub over the IPC channel. Interest is per call and reference-counted here, so the
 * hub hears one `sub` and one `unsub` per call and kind. Frames cross the channel only for calls
 * the hub says another worker mixes (`wanted`): with calls placed whole on one worker, none do.
 */
export class IpcBus implements Bus {
  readonly #local: MemoryBus;
  readonly #send: (message: WorkerBusMessage) => void;
  readonly #refs = new Map<string, number>();
  readonly #wanted = new Set<string>();
  readonly #scratch = createScratchFrame('');
  readonly #gathering = new Map<number, (stats: NodeCallStats[]) => void>();
  #nextGather = 1;

  constructor(send: (message: WorkerBusMessage) => void, onHandlerError?: (err: unknown) => void) {
    this.#send = send;
    this.#local = new MemoryBus({ onHandlerError });
  }

  /** A message from the hub. */
  receive(message: HubBusMessage) {
    switch (message.t) {
      case 'frame':
        this.#scratch.callPk = message.callPk;
        if (decodeTrackFrame(message.data, this.#scratch)) this.#local.publishFrame(this.#scratch);
        return;
      case 'event':
        return this.#local.publishCallEvent(message.callPk, message.event);
      case 'wanted':
        if (message.on) this.#wanted.add(message.callPk);
        else this.#wanted.delete(message.callPk);
        return;
      case 'stats?':
        return this.#send({ t: 'stats', id: message.id, stats: this.#local.localCallStats(message.callPk) });
      case 'gathered': {
        const done = this.#gathering.get(message.id);
        this.#gathering.delete(message.id);
        return done?.([...message.stats]);
      }
    }
  }

  publishFrame(frame: TrackFrame): void {
    this.#local.publishFrame(frame);
    if (this.#wanted.has(frame.callPk))
      this.#send({ t: 'frame', callPk: frame.callPk, data: encodeTrackFrame(frame) });
  }

  /** A subscriber in this worker, or another worker that mixes the call (the hub says which). */
  wantsFrames(callPk: string): boolean {
    return this.#local.wantsFrames(callPk) || this.#wanted.has(callPk);
  }

  subscribeFrames(callPk: string, handler: (frame: TrackFrame) => void): Unsubscribe {
    return this.#interest('frames', callPk, this.#local.subscribeFrames(callPk, handler));
  }

  publishCallEvent(callPk: string, event: CallEvent): void {
    this.#local.publishCallEvent(callPk, event);
    this.#send({ t: 'event', callPk, event });
  }

  subscribeCallEvents(callPk: string, handler: (event: CallEvent) => void): Unsubscribe {
    return this.#interest('events', callPk, this.#local.subscribeCallEvents(callPk, handler));
  }

  answerCallStats(callPk: string, answer: () => NodeCallStats): Unsubscribe {
    return this.#interest('stats', callPk, this.#local.answerCallStats(callPk, answer));
  }

  /** Asks the hub, which gathers from every process (this one included) within its deadline. */
  gatherCallStats(callPk: string): Promise<NodeCallStats[]> {
    const id = this.#nextGather++;
    return new Promise((resolve) => {
      this.#gathering.set(id, resolve);
      this.#send({ t: 'gather', id, callPk });
    });
  }

  async ping(): Promise<void> {}

  onReconnect(_listener: () => void): Unsubscribe {
    return () => {};
  }

  async close(): Promise<void> {
    for (const done of this.#gathering.values()) done([]);
    this.#gathering.clear();
    await this.#local.close();
  }

  #interest(kind: BusInterest, callPk: string, unsubscribe: Unsubscribe): Unsubscribe {
    const key = `${kind}|${callPk}`;
    const refs = this.#refs.get(key) ?? 0;
    this.#refs.set(key, refs + 1);
    if (refs === 0) this.#send({ t: 'sub', kind, callPk });
    let done = false;
    return () => {
      if (done) return;
      done = true;
      unsubscribe();
      const left = (this.#refs.get(key) ?? 1) - 1;
      if (left > 0) return void this.#refs.set(key, left);
      this.#refs.delete(key);
      this.#send({ t: 'unsub', kind, callPk });
    };
  }
}
