import { Worker } from 'node:worker_threads';

/** An ingest socket fed from a worker thread (see paced-sender-worker.mjs). */
export interface PacedSender {
  /** Sends batch i at start + i × `intervalMs` (each message of a batch at once); resolves after the last. */
  send(batches: readonly (readonly (string | Uint8Array)[])[], intervalMs: number): Promise<void>;
  /** Resolves once `count` batches of the current `send` have gone out. */
  sent(count: number): Promise<void>;
  /** Closes the socket and ends the worker. */
  close(): Promise<void>;
  /** The text messages the server sent back, so far (a protocol's replies). */
  readonly received: readonly string[];
  /** How the socket closed (by either side). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The subprotocol and extensions the server agreed to. */
  readonly negotiated: { protocol: string; extensions: string };
}

/**
 * Opens `url` in a worker thread whose only job is to send on time: a server running in the
 * test's own thread delays its timers (a tick, an HTTP request, garbage collection), which would
 * otherwise make the audio late at the server and cost frames that the test then measures.
 */
export async function openPacedSender(
  url: string,
  headers: Record<string, string> = {},
  protocols: string[] = [],
): Promise<PacedSender> {
  const worker = new Worker(new URL('./paced-sender-worker.mjs', import.meta.url), {
    workerData: { url, headers, protocols },
  });
  const negotiated = { protocol: '', extensions: '' };
  worker.on('message', (m: { t: string; protocol?: string; extensions?: string }) => {
    if (m.t === 'open')
      Object.assign(negotiated, { protocol: m.protocol ?? '', extensions: m.extensions ?? '' });
  });
  const received: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    worker.on('message', (m: { t: string; text?: string; code?: number; reason?: string }) => {
      if (m.t === 'text') received.push(m.text ?? '');
      else if (m.t === 'server-close') resolve({ code: m.code ?? 0, reason: m.reason ?? '' });
    });
  });
  const reply = (t: string) =>
    new Promise<void>((resolve, reject) => {
      const onMessage = (m: { t: string; message?: string }) => {
        if (m.t === t) {
          worker.off('message', onMessage);
          resolve();
        } else if (m.t === 'error') reject(new Error(`paced sender: ${m.message}`));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  try {
    await reply('open');
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  let progress = 0;
  const waiting = new Set<{ count: number; resolve: () => void }>();
  worker.on('message', (m: { t: string; sent?: number }) => {
    if (m.t !== 'progress') return;
    progress = m.sent ?? 0;
    for (const w of waiting) {
      if (progress >= w.count) {
        waiting.delete(w);
        w.resolve();
      }
    }
  });
  return {
    received,
    closed,
    negotiated,
    async send(batches, intervalMs) {
      progress = 0;
      const sent = reply('sent');
      worker.postMessage({ t: 'send', batches, intervalMs });
      await sent;
    },
    sent(count) {
      if (progress >= count) return Promise.resolve();
      return new Promise((resolve) => waiting.add({ count, resolve }));
    },
    async close() {
      const closed = reply('closed');
      worker.postMessage({ t: 'close' });
      await closed;
      await worker.terminate();
    },
  };
}
