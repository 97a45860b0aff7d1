import { WebSocket } from 'ws';
import { encodeAlaw, encodeMulaw } from '../../src/audio/g711.js';
import { sine } from './signals.js';

/** A listener as a customer would open one: collects every message and how the socket ended. */
export interface TestListener {
  readonly ws: WebSocket;
  readonly binary: Buffer[];
  /** Arrival time (ms, performance.now) of each binary message. */
  readonly arrivals: number[];
  readonly text: unknown[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** All binary payloads concatenated as PCM16 samples. */
  samples(fromMessage?: number, toMessage?: number): Int16Array;
}

export function openListener(url: string): Promise<TestListener> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const binary: Buffer[] = [];
    const arrivals: number[] = [];
    const text: unknown[] = [];
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        binary.push(data);
        arrivals.push(performance.now());
      } else text.push(JSON.parse(data.toString()));
    });
    ws.once('open', () =>
      resolve({
        ws,
        binary,
        arrivals,
        text,
        closed,
        samples(from = 0, to = binary.length) {
          const bytes = Buffer.concat(binary.slice(from, to));
          const out = new Int16Array(bytes.length >> 1);
          for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2);
          return out;
        },
      }),
    );
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () =>
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body }),
        ),
      );
    });
    ws.once('error', reject);
  });
}

/** Opens a socket and reports the HTTP refusal of its upgrade (status and parsed envelope). */
export function expectUpgradeRefused(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
    ws.once('error', (err) => {
      if (!String(err.message).includes('Unexpected server response')) reject(err);
    });
  });
}

export function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/**
 * Sends `chunks` on `ws` one every `intervalMs`, in real time (deadline-paced), and resolves after
 * the last. `encode` turns a chunk into what is sent.
 */
export async function sendPaced<T>(
  ws: WebSocket,
  chunks: readonly T[],
  intervalMs: number,
  encode: (chunk: T, index: number) => Buffer | string | readonly string[],
): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < chunks.length; i++) {
    if (ws.readyState !== ws.OPEN) return;
    const message = encode(chunks[i], i);
    if (Array.isArray(message)) for (const m of message) ws.send(m);
    else ws.send(message as Buffer | string);
    const wait = start + (i + 1) * intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

export function pcm16Bytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], i * 2);
  return out;
}

/** `seconds` of a −12 dBFS tone as 20 ms ingest messages in the given encoding. */
export function toneChunks(
  freqHz: number,
  rateHz: number,
  seconds: number,
  encode: 'mulaw' | 'alaw' | 'pcm16',
): Buffer[] {
  const perChunk = rateHz / 50;
  const signal = sine({ freqHz, sampleRateHz: rateHz, length: perChunk * 50 * seconds, amplitudeDbfs: -12 });
  const chunks: Buffer[] = [];
  for (let i = 0; i < signal.length; i += perChunk) {
    const part = signal.subarray(i, i + perChunk);
    if (encode === 'pcm16') chunks.push(pcm16Bytes(part));
    else {
      const out = new Uint8Array(part.length);
      if (encode === 'alaw') encodeAlaw(part, out);
      else encodeMulaw(part, out);
      chunks.push(Buffer.from(out));
    }
  }
  return chunks;
}
