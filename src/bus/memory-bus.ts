import type { TrackFrame } from '../domain/audio-format.js';
import type { Bus, CallEvent, NodeCallStats, Unsubscribe } from './bus.js';

/**
 * The single-node bus: synchronous, zero-copy delivery to in-process subscribers. A throwing
 * handler is isolated so that it cannot break the publisher or the other subscribers.
 */
export class MemoryBus implements Bus {
  readonly #frameHandlers = new Map<string, Set<(frame: TrackFrame) => void>>();
  readonly #eventHandlers = new Map<string, Set<(event: CallEvent) => void>>();
  readonly #statsAnswers = new Map<string, Set<() => NodeCallStats>>();
  readonly #onHandlerError: (err: unknown) => void;

  constructor(options: { onHandlerError?: (err: unknown) => void } = {}) {
    this.#onHandlerError = options.onHandlerError ?? (() => {});
  }

  publishFrame(frame: TrackFrame): void {
    deliver(this.#frameHandlers.get(frame.callPk), frame, this.#onHandlerError);
  }

  wantsFrames(callPk: string): boolean {
    return this.#frameHandlers.has(callPk);
  }

  subscribeFrames(callPk: string, handler: (frame: TrackFrame) => void): Unsubscribe {
    return subscribe(this.#frameHandlers, callPk, handler);
  }

  publishCallEvent(callPk: string, event: CallEvent): void {
    deliver(this.#eventHandlers.get(callPk), event, this.#onHandlerError);
  }

  subscribeCallEvents(callPk: string, handler: (event: CallEvent) => void): Unsubscribe {
    return subscribe(this.#eventHandlers, callPk, handler);
  }

  answerCallStats(callPk: string, answer: () => NodeCallStats): Unsubscribe {
    return subscribe(this.#statsAnswers, callPk, answer);
  }

  async gatherCallStats(callPk: string): Promise<NodeCallStats[]> {
    return this.localCallStats(callPk);
  }

  /** The answers of this process's answerers for the call (synchronous; a throwing one is skipped). */
  localCallStats(callPk: string): NodeCallStats[] {
    const answers: NodeCallStats[] = [];
    for (const answer of this.#statsAnswers.get(callPk) ?? []) {
      try {
        answers.push(answer());
      } catch (err) {
        this.#onHandlerError(err);
      }
    }
    return answers;
  }

  async ping(): Promise<void> {}

  /** In process, there is no connection to lose. */
  onReconnect(_listener: () => void): Unsubscribe {
    return () => {};
  }

  async close(): Promise<void> {
    this.#frameHandlers.clear();
    this.#eventHandlers.clear();
    this.#statsAnswers.clear();
  }
}

function subscribe<T>(
  map: Map<string, Set<(value: T) => void>>,
  key: string,
  handler: (value: T) => void,
): Unsubscribe {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(handler);
  return () => {
    const current = map.get(key);
    if (!current) return;
    current.delete(handler);
    if (current.size === 0) map.delete(key);
  };
}

function deliver<T>(
  handlers: Set<(value: T) => void> | undefined,
  value: T,
  onError: (err: unknown) => void,
): void {
  if (!handlers) return;
  for (const handler of handlers) {
    try {
      handler(value);
    } catch (err) {
      onError(err);
    }
  }
}
