import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { CallLifecycle } from './call-lifecycle.js';

export interface IdleSweeperOptions {
  readonly store: Store;
  readonly lifecycle: CallLifecycle;
  readonly idleTimeoutS: number;
  readonly log: Logger;
}

/**
 * Completes calls that have had no ingest connected for `idleTimeoutS`. Activity lives in the store
 * (ingest connections refresh it), so any node may sweep and a call whose ingest is on another node
 * is never completed by mistake. Returns a function that stops the sweeper.
 */
export function startIdleSweeper(options: IdleSweeperOptions): () => void {
  const { store, lifecycle, idleTimeoutS, log } = options;
  // Sweep often enough that a call ends within ~10% of its timeout, but not more than 4×/s.
  const intervalMs = Math.min(Math.max((idleTimeoutS * 1000) / 10, 250), 10_000);
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const before = new Date(Date.now() - idleTimeoutS * 1000).toISOString();
      for (const call of await store.findIdleCalls(before, 100)) {
        await lifecycle.complete(call);
        log.info({ callId: call.callId, callPk: call.pk }, 'call completed after idle timeout');
      }
    } catch (err) {
      log.warn({ err }, 'idle sweep failed; will retry');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
