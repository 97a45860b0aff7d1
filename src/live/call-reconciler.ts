import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Store } from '../store/store.js';

/**
 * The bus is at-most-once: a node that was cut off from NATS when a call ended elsewhere never
 * heard `ended`, and would keep that call's listeners open. This compares what the node has live
 * with the store (the source of truth) and announces `ended` again for calls completed there —
 * harmless for nodes that did hear it. It runs every `intervalMs` and, through `reconcileSoon()`,
 * shortly after the bus reconnects. Returns its controls.
 */
export function startCallReconciler(options: {
  store: Store;
  bus: Bus;
  liveCalls: () => string[];
  log: Logger;
  intervalMs?: number;
}): { reconcile(): Promise<void>; reconcileSoon(): void; stop(): void } {
  const { store, bus, liveCalls, log } = options;
  let running = false;
  const reconcile = async () => {
    if (running) return;
    running = true;
    try {
      for (const pk of liveCalls()) {
        const call = await store.getCallByPk(pk);
        if (call?.status === 'completed') {
          log.info({ callPk: pk }, 'call completed while its end was not heard here: closing its sockets');
          bus.publishCallEvent(pk, { type: 'ended' });
        }
      }
    } catch (err) {
      log.warn({ err }, 'call reconciliation failed; will retry');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(reconcile, options.intervalMs ?? 30_000);
  timer.unref();
  const pending = new Set<NodeJS.Timeout>();
  return {
    reconcile,
    reconcileSoon() {
      // Give the other nodes a moment to reconnect too, so that they hear the re-announcement.
      const t = setTimeout(() => {
        pending.delete(t);
        void reconcile();
      }, 1000);
      t.unref();
      pending.add(t);
    },
    stop() {
      clearInterval(timer);
      for (const t of pending) clearTimeout(t);
    },
  };
}
