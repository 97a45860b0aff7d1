import { Worker } from 'node:worker_threads';

export interface Flood {
  kind: 'http' | 'upgrade' | 'idle';
  url: string;
  /** Requests in flight at once (http, upgrade), or idle connections held (idle). */
  concurrency: number;
  durationMs: number;
  method?: string;
  /** `authorization: '$random'` sends a fresh random API key with each request. */
  headers?: Record<string, string>;
  body?: string;
  /** idle: how long the connections are held before they are all cut at once. */
  hold?: number;
  /** The client address the flood comes from (127.0.0.x). */
  localAddress?: string;
}

/** Runs a flood in a worker thread of its own; resolves with the answers counted by status. */
export function flood(options: Flood): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./flood-worker.mjs', import.meta.url), { workerData: options });
    worker.once('message', (statuses) => {
      resolve(statuses);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
