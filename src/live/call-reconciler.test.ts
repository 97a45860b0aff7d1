import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory-bus.js';
import type { Call } from '../domain/entities.js';
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

  it('survives a store that is down (it retries on its next run)', async () => {
    const store = { getCallByPk: async () => Promise.reject(new Error('ECONNREFUSED')) };
    const reconciler = startCallReconciler({
      store: store as unknown as Store,
      bus: new MemoryBus(),
      live: { liveCalls: () => ['x'], callsWithListeners: () => [], closeRevoked: () => 0 },
      log: pino({ level: 'silent' }),
    });
    await expect(reconciler.reconcile()).resolves.toBeUndefined();
    reconciler.stop();
  });
});
