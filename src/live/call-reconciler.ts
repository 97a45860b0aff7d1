import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Store } from '../store/store.js';

/** What the reconciler needs to know of what this node has live (the LiveRegistry). */
export interface ReconciledCalls {
  /** Calls this node has anything live for. */
  liveCalls(): string[];
  callsWithListeners(): string[];
  /** Closes (4001) the call's listeners that connected with one of these token hashes; returns how many. */
  closeRevoked(callPk: string, tokenHashes: readonly string[]): number;
}

/**
 * The bus is at-most-once: a node that was cut off from NATS when a call ended or its listen URLs
 * were revoked elsewhere never heard `ended` or `revoked`, and would keep those listeners open.
 * This compares what the node has live with the store (the source of truth): it announces `ended`
 * again for calls completed there — harmless for nodes that did hear it — and closes its own
 * listeners whose token was revoked. It runs every `intervalMs` and, through `reconcileSoon()`,
 * shortly after the bus reconnects. Returns its controls.
 */
export function startCallReconciler(options: {
  store: Store;
  bus: Bus;
  live: ReconciledCalls;
  log: Logger;
  intervalMs?: number;
}): { reconcile(): Promise<void>; reconcileSoon(): void; stop(): void } {
  const { store, bus, live, log } = options;
  let running = false;
  const reconcile = async () => {
    if (running) return;
    running = true;
    try {
      for (const pk of live.liveCalls()) {
        const call = await store.getCallByPk(pk);
        if (call?.status === 'completed') {
          log.info({ callPk: pk }, 'call completed while its end was not heard here: closing its sockets');
          bus.publishCallEvent(pk, { type: 'ended' });
        }
      }
      for (const pk of live.callsWithListeners()) {
        const revoked = await store.revokedListenTokenHashes(pk);
        const closed = revoked.length > 0 ? live.closeRevoked(pk, revoked) : 0;
        if (closed > 0) log.info({ callPk: pk, closed }, 'closed listeners whose URL was revoked unheard');
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
