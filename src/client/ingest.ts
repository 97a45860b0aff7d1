import { WebSocket } from 'ws';
import { encodeAlaw, encodeMulaw } from '../audio/g711.js';
import { writePcm16le } from '../audio/pcm16.js';
import { type Refusal, readRefusal, UpgradeRefusedError } from './refusal.js';

/**
 * `ingest()` of `earshot/client`: a participant's audio pushed into a call from Node over the
 * generic ingest socket (SPEC §4.1) — what `earshot simulate` uses — or two participants' on one
 * socket, as stereo (`participants`), which costs the server about half of two sockets. The caller
 * writes PCM16 at its own pace (`write`), or hands over a whole signal to be sent in real time (`play`).
 */

export interface IngestOptions {
  /** Participant name; default `caller`. */
  readonly participant?: string;
  /**
   * Two participants on this one socket (`channels=2`): the samples written are interleaved, the
   * first participant's left (even indexes), the second's right. Not with `participant`.
   */
  readonly participants?: readonly [string, string];
  /** Rate of the samples written; default 16000 (8000, 16000, 24000, 32000, 48000). */
  readonly sampleRate?: 8000 | 16000 | 24000 | 32000 | 48000;
  /** On the wire: `pcm16` (default), or G.711 `mulaw`/`alaw` encoded here. */
  readonly encoding?: 'pcm16' | 'mulaw' | 'alaw';
  /** Sent as `Authorization` (an API key or ingest key), when the URL carries no `?token=`. */
  readonly authorization?: string;
}

export interface Ingesting {
  /**
   * Sends samples (any whole number; 20 ms is typical; with `participants`, interleaved pairs) at
   * once. Resolves when the socket's send buffer is below 64 KiB again, so a loop that awaits it
   * never queues without bound.
   */
  write(samples: Int16Array): Promise<void>;
  /** Sends `samples` in 20 ms messages on a deadline clock (real time, no drift); resolves when done or stopped. */
  play(samples: Int16Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Ends the participant(s) (`{"event":"stop"}`) and closes; resolves when closed. */
  end(): Promise<void>;
  /** Settles when the socket closes: its code and reason (4002: taken over by a newer connection). */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** An ingest upgrade the server refused: `status` and `code` say why. */
export class IngestRefusedError extends UpgradeRefusedError {
  override readonly name = 'IngestRefusedError';
  constructor(refusal: Refusal) {
    super('ingest', refusal);
  }
}

const HIGH_WATER_BYTES = 64 * 1024;
const MESSAGE_MS = 20;

/**
 * Opens the generic ingest socket: `url` is the call's `ingest.url` from `POST /v1/calls` (with its
 * token), or `ws(s)://host/ws/ingest/{call_id}` with `authorization`. Resolves once it is open;
 * rejects with IngestRefusedError when the server refuses it.
 */
export async function ingest(url: string, options: IngestOptions = {}): Promise<Ingesting> {
  const target = new URL(url);
  const encoding = options.encoding ?? 'pcm16';
  const sampleRate = options.sampleRate ?? 16000;
  const { participants } = options;
  if (participants !== undefined) {
    if (options.participant !== undefined)
      throw new TypeError('ingest(): participant or participants, not both');
    if (!Array.isArray(participants) || participants.length !== 2)
      throw new TypeError('ingest(): participants names two participants');
  }
  const channels = participants ? 2 : 1;
  target.searchParams.set(
    'participant',
    participants ? participants.join(',') : (options.participant ?? 'caller'),
  );
  if (participants) target.searchParams.set('channels', '2');
  target.searchParams.set('encoding', encoding);
  target.searchParams.set('sample_rate', String(sampleRate));
  const ws = new WebSocket(target, {
    perMessageDeflate: false,
    headers: options.authorization ? { authorization: options.authorization } : {},
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) => {
      void readRefusal(response).then((refusal) => {
        reject(new IngestRefusedError(refusal));
        ws.terminate();
      });
    });
    ws.once('error', reject);
  });
  // After the open, errors end in a close (which `closed` reports).
  ws.on('error', () => {});

  const encode = (samples: Int16Array): Buffer => {
    if (encoding === 'pcm16') {
      const bytes = Buffer.allocUnsafe(samples.length * 2);
      writePcm16le(samples, bytes, 0);
      return bytes;
    }
    const bytes = Buffer.allocUnsafe(samples.length);
    (encoding === 'mulaw' ? encodeMulaw : encodeAlaw)(samples, bytes);
    return bytes;
  };

  const write = async (samples: Int16Array): Promise<void> => {
    if (ws.readyState !== ws.OPEN) throw new Error('the ingest socket is closed');
    if (samples.length % channels !== 0)
      throw new RangeError('ingest(): stereo samples come in pairs (an even number of them)');
    ws.send(encode(samples));
    while (ws.bufferedAmount > HIGH_WATER_BYTES && ws.readyState === ws.OPEN)
      await new Promise((resolve) => setTimeout(resolve, 5));
  };

  return {
    write,
    async play(samples, playOptions = {}) {
      const per = ((sampleRate * MESSAGE_MS) / 1000) * channels;
      const start = performance.now();
      for (let i = 0, sent = 0; i < samples.length; i += per) {
        if (playOptions.signal?.aborted || ws.readyState !== ws.OPEN) return;
        await write(samples.subarray(i, i + per));
        sent++;
        const wait = start + sent * MESSAGE_MS - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    },
    async end() {
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ event: 'stop' }));
        ws.close(1000, 'done');
      }
      await closed;
    },
    closed,
  };
}
