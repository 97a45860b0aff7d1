import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

/**
 * Keeps calls with ingest connected on this node from idling out: refreshes their activity in the
 * store every `intervalMs` (a third of the idle timeout, at most 10 s). One batched write per
 * interval, whatever the number of calls. Returns a function that stops it.
 */
export function startActivityHeartbeat(options: {
  store: Store;
  /** What this node has live (the LiveRegistry, or the media workers'). */
  registry: { callsWithIngest(): string[] };
  idleTimeoutS: number;
  log: Logger;
}): () => void {
  const { store, registry, idleTimeoutS, log } = options;
  const intervalMs = Math.min(Math.max((idleTimeoutS * 1000) / 3, 200), 10_000);
  const timer = setInterval(() => {
    const pks = registry.callsWithIngest();
    if (pks.length > 0)
      store.touchCalls(pks).catch((err) => log.warn({ err }, 'could not record ingest activity'));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
