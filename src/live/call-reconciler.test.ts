import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { sqliteBackend } from '../../test/helpers/databases.js';
import type { CallEvent } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory-bus.js';
import type { Call } from '../domain/entities.js';
import { openStore } from '../store/open-store.js';
import { hashSecret } from '../store/secrets.js';
import type { Store } from '../store/store.js';
import { startCallReconciler } from './call-reconciler.js';

describe('startCallReconciler', () => {
  it('announces `ended` for the live calls the store has completed, and only those', async () => {
    const bus = new MemoryBus();
    const status: Record<string, Call['status']> = { done: 'completed', running: 'active' };
    const store = {
      getCallByPk: async (pk: string) => (pk in status ? ({ pk, status: status[pk] } as Call) : undefined),
    };
    const heard: [string, CallEvent][] = [];
    for (const pk of ['done', 'running', 'unknown']) bus.subscribeCallEvents(pk, (e) => heard.push([pk, e]));
    const reconciler = startCallReconciler({
      store: store as unknown as Store,
      bus,
      live: {
        liveCalls: () => ['done', 'running', 'unknown'],
        callsWithListeners: () => [],
        closeRevoked: () => 0,
      },
      log: pino({ level: 'silent' }),
    });
    await reconciler.reconcile();
    reconciler.stop();
    expect(heard).toEqual([['done', { type: 'ended' }]]);
  });

  it("closes this node's listeners whose listen token the store has revoked, and only those", async () => {
    const revoked: Record<string, string[]> = { a: ['h1', 'h2'], b: [] };
    const store = {
      getCallByPk: async (pk: string) => ({ pk, status: 'active' }) as Call,
      revokedListenTokenHashes: async (pk: string) => revoked[pk] ?? [],
    };
    const closed: [string, readonly string[]][] = [];
    const reconciler = startCallReconciler({
      store: store as unknown as Store,
      bus: new MemoryBus(),
      live: {
        liveCalls: () => ['a', 'b'],
        callsWithListeners: () => ['a', 'b'],
        closeRevoked: (pk, hashes) => {
          closed.push([pk, hashes]);
          return hashes.length;
        },
      },
      log: pino({ level: 'silent' }),
    });
    await reconciler.reconcile();
    reconciler.stop();
    expect(closed).toEqual([['a', ['h1', 'h2']]]);
  });

  it('closes the listeners of URLs revoked offline with their key (earshot key revoke) or by turning live listen off', async () => {
    const db = await sqliteBackend.create();
    const store = await openStore(db.config);
    try {
      const org = await store.createOrg('Offline', true);
      const k1 = await store.createApiKey(org.id);
      const k2 = await store.createApiKey(org.id);
      const { call } = await store.createCall(org.id, {});
      const expired = new Date(Date.now() - 1000).toISOString();
      const later = new Date(Date.now() + 60_000).toISOString();
      const [a, b, c] = [
        await store.createListenToken(call.pk, expired, k1.prefix),
        await store.createListenToken(call.pk, later, k1.prefix),
        await store.createListenToken(call.pk, later, k2.prefix),
      ].map(hashSecret);
      const open = new Set([a, b, c]);
      const reconciler = startCallReconciler({
        store,
        bus: new MemoryBus(),
        live: {
          liveCalls: () => [call.pk],
          callsWithListeners: () => [call.pk],
          closeRevoked: (_pk, hashes) => hashes.filter((h) => open.delete(h)).length,
        },
        log: pino({ level: 'silent' }),
      });
      // Only the store is written, as the offline CLI does; nothing is announced.
      await store.revokeApiKey(k1.prefix);
      await reconciler.reconcile();
      expect([...open]).toEqual([c]);
      await store.setLiveListenEnabled(org.id, false);
      await reconciler.reconcile();
      reconciler.stop();
      expect([...open]).toEqual([]);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('survives a store that is down and retries on its next run', async () => {
    vi.useFakeTimers();
    try {
      const bus = new MemoryBus();
      const heard: CallEvent[] = [];
      bus.subscribeCallEvents('x', (e) => heard.push(e));
      let down = true;
      const asked: string[] = [];
      const store = {
        getCallByPk: async (pk: string) => {
          asked.push(pk);
          if (down) throw new Error('ECONNREFUSED');
          return { pk, status: 'completed' } as Call;
        },
      };
      const warned: string[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => warned.push(JSON.parse(line).msg) });
      const reconciler = startCallReconciler({
        store: store as unknown as Store,
        bus,
        live: { liveCalls: () => ['x'], callsWithListeners: () => [], closeRevoked: () => 0 },
        log,
        intervalMs: 1000,
      });
      // The first run (on its timer) finds the store down: nothing announced, a warning, no throw.
      await vi.advanceTimersByTimeAsync(1000);
      expect(asked).toEqual(['x']);
      expect(heard).toEqual([]);
      expect(warned).toEqual(['call reconciliation failed; will retry']);
      // The store is back: the next run asks again and announces what the first one could not.
      down = false;
      await vi.advanceTimersByTimeAsync(1000);
      expect(asked).toEqual(['x', 'x']);
      expect(heard).toEqual([{ type: 'ended' }]);
      reconciler.stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(asked).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
