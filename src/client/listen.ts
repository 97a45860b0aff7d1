import { WebSocket } from 'ws';
import { decodeMulaw } from '../audio/g711.js';
import { OpusPacketDecoder, opusAvailability } from '../audio/opus.js';
import { readPcm16le } from '../audio/pcm16.js';
import { type Refusal, readRefusal, UpgradeRefusedError } from './refusal.js';

/**
 * `listen()` of `earshot/client` (SPEC §6): a live call as an async iterator of PCM frames and
 * events, for Node programs that consume audio — transcribers, recorders, QA tools.
 *
 * - **Formats** of SPEC §3 (`sampleRate`, `encoding` pcm16, mulaw or opus — decoded here, `channels`,
 *   `frameMs`, `events`); every frame's `samples` is 16-bit PCM, interleaved when stereo. With Opus
 *   (a tenth of PCM's bytes) each frame also carries the `packet` as received, for recorders that
 *   store Opus as it is.
 * - **Never unbounded.** The socket is always read; when the consumer falls behind, frames beyond
 *   `maxBufferedMs` are dropped, oldest first, and reported as a `gap` (`slow-consumer`) before the
 *   next frame, so memory stays flat however slow the loop is.
 * - **Reconnection.** A dropped connection is opened again — through the URL provider when one is
 *   given (a fresh listen URL each time: `POST /v1/calls/{id}/listen`), else with the same URL —
 *   with backoff (250 ms doubling to `maxReconnectDelayMs`); the outage is reported as one `gap`
 *   (`reconnect`). The call's end (1000 `call ended`, or the call gone: 404/409 at the upgrade)
 *   ends the iteration; refused credentials (401/403) end it with an error.
 */

/** A listen URL, or a function that mints a fresh one (called first, and again to reconnect). */
export type ListenSource = string | (() => Promise<string>);

export interface ListenOptions {
  /** Output rate (SPEC §3); default 16000. */
  readonly sampleRate?: 8000 | 16000 | 24000 | 48000;
  /**
   * On the wire: `pcm16` (default), `mulaw` (half the bytes) or `opus` (about a tenth: decoded here
   * with libopus, which must have built at install — else `listen()` throws).
   */
  readonly encoding?: 'pcm16' | 'mulaw' | 'opus';
  /** 2: first participant left, all others right (interleaved samples); default 1. */
  readonly channels?: 1 | 2;
  /** Milliseconds per message; default 20. */
  readonly frameMs?: 20 | 40 | 60 | 100;
  /** Also yield the server's events (participants joining and leaving, speaking, gaps). */
  readonly events?: boolean;
  /** Audio held for a consumer that has fallen behind before the oldest is dropped; default 2000. */
  readonly maxBufferedMs?: number;
  /** Reconnect after a drop (default true); false ends the iteration at the first close. */
  readonly reconnect?: boolean;
  /** Longest wait between reconnection attempts; default 5000. */
  readonly maxReconnectDelayMs?: number;
  /** Stops listening (the iteration ends). */
  readonly signal?: AbortSignal;
}

/** One message of audio. */
export interface ListenFrame {
  readonly type: 'frame';
  /** PCM16 at `sampleRate`, `channels` interleaved. Owned by the consumer. */
  readonly samples: Int16Array;
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  /** Where the frame starts in the listening, in ms: audio received plus every gap reported. */
  readonly positionMs: number;
  /** Date.now() when it arrived. */
  readonly receivedAt: number;
  /** With `encoding: 'opus'`: the Opus packet `samples` were decoded from, as the server sent it. */
  readonly packet?: Uint8Array;
}

export type ListenEvent =
  | { readonly type: 'participant'; readonly name: string; readonly state: 'joined' | 'left' }
  | { readonly type: 'speaking'; readonly name: string; readonly state: 'start' | 'stop' }
  /** Audio that will never come: dropped by the server (`server`), here for a slow consumer, or lost to a reconnection. */
  | { readonly type: 'gap'; readonly ms: number; readonly reason: 'server' | 'slow-consumer' | 'reconnect' }
  /** The connection dropped; the next attempt follows after `delayMs`. */
  | {
      readonly type: 'reconnecting';
      readonly attempt: number;
      readonly delayMs: number;
      readonly code: number;
    };

export type ListenItem = ListenFrame | ListenEvent;

/** How the listening ended: the call's end, `close()`, the signal, or the server's last word. */
export interface ListenEnd {
  readonly code: number;
  readonly reason: string;
}

export interface Listening extends AsyncIterableIterator<ListenItem> {
  /** Stops listening: the socket closes, the iteration ends after what is queued. */
  close(): void;
  /** Settles when the listening is over (rejects with why it failed). */
  readonly ended: Promise<ListenEnd>;
}

/** A listen upgrade the server refused: `status` and `code` say why. */
export class ListenRefusedError extends UpgradeRefusedError {
  override readonly name = 'ListenRefusedError';
  constructor(refusal: Refusal) {
    super('listen', refusal);
  }
}

const FIRST_RECONNECT_DELAY_MS = 250;

function assertOpus(): void {
  const opus = opusAvailability();
  if (!opus.available) throw new Error(`encoding 'opus' needs libopus (@discordjs/opus): ${opus.reason}`);
}
/** Events (participants, speaking, gaps) held for a consumer that does not read; the oldest go first. */
const MAX_QUEUED_EVENTS = 1000;

export function listen(source: ListenSource, options: ListenOptions = {}): Listening {
  return new ListenSession(source, options).iterator();
}

type Outcome =
  | { readonly kind: 'closed'; readonly code: number; readonly reason: string; readonly opened: boolean }
  | { readonly kind: 'refused'; readonly error: ListenRefusedError }
  | { readonly kind: 'failed'; readonly error: Error };

class ListenSession {
  readonly #source: ListenSource;
  readonly #options: ListenOptions;
  readonly #sampleRate: number;
  readonly #channels: 1 | 2;
  readonly #maxFrames: number;
  readonly #queue: ListenItem[] = [];
  #frames = 0;
  /** Events queued (not frames): bounded too, for a consumer that stops reading for hours. */
  #events = 0;
  #droppedMs = 0;
  #positionMs = 0;
  #waiter: ((result: IteratorResult<ListenItem>) => void) | null = null;
  #failWaiter: ((err: Error) => void) | null = null;
  #done = false;
  #error: Error | null = null;
  #socket: WebSocket | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #end: ListenEnd = { code: 1000, reason: 'closed' };
  readonly #ended: Promise<ListenEnd>;
  #settle!: { resolve(end: ListenEnd): void; reject(err: Error): void };

  constructor(source: ListenSource, options: ListenOptions) {
    this.#source = source;
    this.#options = options;
    this.#sampleRate = options.sampleRate ?? 16000;
    this.#channels = options.channels ?? 1;
    const frameMs = options.frameMs ?? 20;
    const maxBufferedMs = options.maxBufferedMs ?? 2000;
    if (!Number.isFinite(maxBufferedMs) || maxBufferedMs < frameMs)
      throw new RangeError(`maxBufferedMs must be at least frameMs (${frameMs})`);
    this.#maxFrames = Math.floor(maxBufferedMs / frameMs);
    if (options.encoding === 'opus') assertOpus();
    this.#ended = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Its rejection is also the iteration's: a program that only iterates must not see it unhandled.
    this.#ended.catch(() => {});
    options.signal?.addEventListener('abort', () => this.#stop(), { once: true });
    if (options.signal?.aborted) this.#stop();
    void this.#run();
  }

  iterator(): Listening {
    return {
      next: () => this.#next(),
      return: async () => {
        this.#stop();
        this.#queue.length = 0;
        this.#frames = this.#events = 0;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
      close: () => this.#stop(),
      ended: this.#ended,
    };
  }

  #next(): Promise<IteratorResult<ListenItem>> {
    if (this.#droppedMs > 0) {
      const ms = this.#droppedMs;
      this.#droppedMs = 0;
      this.#positionMs += ms;
      return Promise.resolve({ done: false, value: { type: 'gap', ms, reason: 'slow-consumer' } });
    }
    const item = this.#queue.shift();
    if (item !== undefined) {
      if (item.type === 'frame') this.#frames--;
      else this.#events--;
      return Promise.resolve({ done: false, value: item });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  #push(item: ListenItem): void {
    if (this.#waiter && this.#droppedMs === 0 && this.#queue.length === 0) {
      const waiter = this.#waiter;
      this.#waiter = this.#failWaiter = null;
      waiter({ done: false, value: item });
      return;
    }
    if (item.type === 'frame') {
      if (this.#frames >= this.#maxFrames) {
        const oldest = this.#queue.findIndex((queued) => queued.type === 'frame');
        const [dropped] = this.#queue.splice(oldest, 1) as ListenFrame[];
        this.#frames--;
        this.#droppedMs += this.#msOf(dropped.samples);
      }
      this.#frames++;
    } else if (this.#events >= MAX_QUEUED_EVENTS) {
      // The oldest event goes: after this many, the consumer has been away for a long while.
      this.#queue.splice(
        this.#queue.findIndex((queued) => queued.type !== 'frame'),
        1,
      );
    } else this.#events++;
    this.#queue.push(item);
  }

  #finish(error: Error | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    if (error) this.#settle.reject(error);
    else this.#settle.resolve(this.#end);
    if (this.#waiter && this.#queue.length === 0 && this.#droppedMs === 0) {
      const [resolve, reject] = [this.#waiter, this.#failWaiter];
      this.#waiter = this.#failWaiter = null;
      if (error) reject?.(error);
      else resolve({ done: true, value: undefined });
    }
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#end = { code: 1000, reason: 'closed by the client' };
    this.#socket?.close(1000, 'listener done');
    this.#wake?.();
    if (!this.#socket) this.#finish(null);
  }

  #msOf(samples: Int16Array): number {
    return (samples.length / this.#channels / this.#sampleRate) * 1000;
  }

  async #run(): Promise<void> {
    const reconnect = this.#options.reconnect ?? true;
    const maxDelay = this.#options.maxReconnectDelayMs ?? 5000;
    let attempt = 0;
    let outageSince: number | null = null;
    while (!this.#stopped) {
      let url: string;
      try {
        url = this.#withFormat(typeof this.#source === 'string' ? this.#source : await this.#source());
      } catch (err) {
        // The provider cannot mint a URL: the call ended (409/404 from the API) or it gave up.
        this.#finish(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (this.#stopped) break;
      if (new URL(url).searchParams.get('encoding') === 'opus') {
        try {
          assertOpus(); // a URL (or provider) asking for Opus where libopus is not built
        } catch (err) {
          this.#finish(err as Error);
          return;
        }
      }
      const outcome = await this.#connect(url, () => {
        if (outageSince !== null) {
          const ms = Date.now() - outageSince;
          this.#positionMs += ms;
          this.#push({ type: 'gap', ms, reason: 'reconnect' });
        }
        outageSince = null;
        attempt = 0;
      });
      if (this.#stopped) break;
      if (outcome.kind === 'refused') {
        const { status } = outcome.error;
        // The call is over (ended, or gone with its listen URL): the listening ends with it.
        if (status === 404 || status === 409) {
          this.#end = { code: 1000, reason: 'call ended' };
          break;
        }
        if (status !== 429 && status < 500) {
          this.#finish(outcome.error);
          return;
        }
      }
      if (outcome.kind === 'closed') {
        this.#end = { code: outcome.code, reason: outcome.reason };
        if (outcome.code === 1000) break;
      }
      if (!reconnect) {
        if (outcome.kind !== 'closed') {
          this.#finish(outcome.error);
          return;
        }
        break;
      }
      outageSince ??= Date.now();
      attempt++;
      const delayMs = Math.min(maxDelay, FIRST_RECONNECT_DELAY_MS * 2 ** (attempt - 1));
      this.#push({
        type: 'reconnecting',
        attempt,
        delayMs,
        code: outcome.kind === 'closed' ? outcome.code : 0,
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    this.#finish(null);
  }

  /** The listen URL with this listener's format options (those it already has are kept). */
  #withFormat(url: string): string {
    const parsed = new URL(url);
    const o = this.#options;
    const set = (name: string, value: string | number | undefined) => {
      if (value !== undefined && !parsed.searchParams.has(name)) parsed.searchParams.set(name, String(value));
    };
    set('sample_rate', o.sampleRate);
    set('encoding', o.encoding);
    set('channels', o.channels);
    set('frame_ms', o.frameMs);
    if (o.events) set('events', 1);
    return parsed.toString();
  }

  #connect(url: string, onOpen: () => void): Promise<Outcome> {
    const asked = new URL(url).searchParams;
    const encoding = asked.get('encoding') ?? 'pcm16';
    // One decoder per connection: a new socket is a new Opus stream.
    const opus =
      encoding === 'opus'
        ? new OpusPacketDecoder(
            Number(asked.get('sample_rate') ?? 16000),
            asked.get('channels') === '2' ? 2 : 1,
          )
        : null;
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      this.#socket = ws;
      let opened = false;
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        this.#socket = null;
        resolve(outcome);
      };
      ws.once('open', () => {
        opened = true;
        onOpen();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) this.#onAudio(data, encoding, opus);
        else this.#onText(data.toString('utf8'));
      });
      ws.once('unexpected-response', (_request, response) => {
        void readRefusal(response).then((refusal) => {
          settle({ kind: 'refused', error: new ListenRefusedError(refusal) });
          ws.terminate();
        });
      });
      ws.once('close', (code, reason) => settle({ kind: 'closed', code, reason: reason.toString(), opened }));
      ws.on('error', (err) => {
        if (!opened) settle({ kind: 'failed', error: err });
      });
    });
  }

  #onAudio(data: Buffer, encoding: string, opus: OpusPacketDecoder | null): void {
    let samples: Int16Array;
    let packet: Uint8Array | undefined;
    if (opus) {
      packet = data; // ws hands each message a Buffer of its own: the consumer may keep it
      try {
        samples = opus.decode(packet);
      } catch {
        return; // not an Opus packet: nothing to play (the server never sends one)
      }
    } else if (encoding === 'mulaw') {
      samples = new Int16Array(data.length);
      decodeMulaw(data, samples);
    } else {
      samples = new Int16Array(data.length >> 1);
      readPcm16le(data, samples);
    }
    const positionMs = this.#positionMs;
    this.#positionMs += this.#msOf(samples);
    this.#push({
      type: 'frame',
      samples,
      sampleRate: this.#sampleRate,
      channels: this.#channels,
      positionMs,
      receivedAt: Date.now(),
      ...(packet ? { packet } : {}),
    });
  }

  #onText(text: string): void {
    let event: { type?: unknown; name?: unknown; state?: unknown; ms?: unknown };
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (event.type === 'gap' && typeof event.ms === 'number') {
      this.#positionMs += event.ms;
      this.#push({ type: 'gap', ms: event.ms, reason: 'server' });
    } else if (event.type === 'participant' && typeof event.name === 'string')
      this.#push({
        type: 'participant',
        name: event.name,
        state: event.state === 'left' ? 'left' : 'joined',
      });
    else if (event.type === 'speaking' && typeof event.name === 'string')
      this.#push({ type: 'speaking', name: event.name, state: event.state === 'stop' ? 'stop' : 'start' });
  }
}
