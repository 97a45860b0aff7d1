import { Worker } from 'node:worker_threads';
import { createLiveCall, type LiveCall } from './live-call.js';
import type { HttpTarget } from './server-process.js';

export interface BystanderReport {
  /** Listener messages received. */
  readonly messages: number;
  readonly maxGapMs: number;
  /** Every gap between two listener messages longer than the threshold, in ms. */
  readonly gaps: number[];
  /** Close code if the listener was closed meanwhile (it must not be). */
  readonly closed: number | null;
}

/**
 * A call that must not notice what the test does to the server: a tone fed in and a listener, both
 * in a worker thread of their own (the test's load cannot delay them). `stop()` reports the gaps
 * between listener messages longer than `gapMs` (SPEC: none over 100 ms).
 */
export async function startBystander(
  ts: HttpTarget,
  apiKey: string,
  gapMs = 100,
): Promise<{ call: LiveCall; stop(): Promise<BystanderReport> }> {
  const call = await createLiveCall(ts, apiKey);
  const worker = new Worker(new URL('./bystander-worker.mjs', import.meta.url), {
    workerData: { ingestUrl: call.ingestUrl('x=1'), listenUrl: await call.listenUrl(), gapMs },
  });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m) => {
      if (m.t === 'open') resolve();
      else if (m.t === 'error') reject(new Error(`bystander: ${m.message}`));
    });
    worker.once('error', reject);
  });
  // Let the stream settle (first messages, jitter buffer) before anything is measured.
  await new Promise((r) => setTimeout(r, 300));
  return {
    call,
    async stop() {
      const report = new Promise<BystanderReport>((resolve) =>
        worker.on('message', (m) => {
          if (m.t === 'report') resolve(m);
        }),
      );
      worker.postMessage('stop');
      const r = await report;
      await worker.terminate();
      return r;
    },
  };
}
