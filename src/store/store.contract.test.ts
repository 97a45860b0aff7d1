import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, type TestDatabase } from '../../test/helpers/databases.js';
import { openStore } from './open-store.js';
import { hashSecret } from './secrets.js';
import { InvalidCursorError, type Store } from './store.js';

describe.each(backends)('Store contract on $name', (backend) => {
  let db: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    db = await backend.create();
    store = await openStore(db.config);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('runs migrations idempotently when opened twice', async () => {
    const again = await openStore(db.config);
    await again.ping();
    await again.close();
  });

  it('creates organizations with live listen off unless asked', async () => {
    const off = await store.createOrg('Acme', false);
    const on = await store.createOrg('Beta', true);
    expect(off.liveListenEnabled).toBe(false);
    expect(on.liveListenEnabled).toBe(true);
    expect(await store.getOrg(off.id)).toEqual(off);
    expect(await store.getOrg('nope')).toBeUndefined();
    expect((await store.findOrgByName('Acme'))?.id).toBe(off.id);
    expect(await store.findOrgByName('Nobody')).toBeUndefined();
    expect((await store.setLiveListenEnabled(off.id, true))?.liveListenEnabled).toBe(true);
    expect(await store.setLiveListenEnabled('nope', true)).toBeUndefined();
  });

  it('finds the org of a live API key and stops after revocation', async () => {
    const org = await store.createOrg('Keys', false);
    const { apiKey, prefix } = await store.createApiKey(org.id);
    expect(apiKey.startsWith(prefix)).toBe(true);
    expect(apiKey.length).toBeGreaterThanOrEqual(40);
    expect((await store.findOrgByApiKey(apiKey))?.id).toBe(org.id);
    expect(await store.findOrgByApiKey(`${apiKey}x`)).toBeUndefined();
    expect(await store.revokeApiKey(prefix)).toBe(true);
    expect(await store.revokeApiKey(prefix)).toBe(false);
    expect(await store.findOrgByApiKey(apiKey)).toBeUndefined();
  });

  it('creates calls idempotently per organization, and the same id in two orgs separately', async () => {
    const a = await store.createOrg('A', false);
    const b = await store.createOrg('B', false);
    const first = await store.createCall(a.id, { callId: 'CA1', from: '+1555', metadata: { x: 1 } });
    const again = await store.createCall(a.id, { callId: 'CA1', from: 'ignored' });
    const other = await store.createCall(b.id, { callId: 'CA1' });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.call).toEqual(first.call);
    expect(first.call).toMatchObject({ callId: 'CA1', status: 'active', from: '+1555', metadata: { x: 1 } });
    expect(other.created).toBe(true);
    expect(other.call.pk).not.toBe(first.call.pk);
    expect(await store.getCall(b.id, 'CA1')).toEqual(other.call);
  });

  it('survives concurrent creates of the same call id', async () => {
    const org = await store.createOrg('Race', false);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.createCall(org.id, { callId: 'race' })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.call.pk)).size).toBe(1);
  });

  it('completes a call once and reports later completions as no change', async () => {
    const org = await store.createOrg('Stop', false);
    const { call } = await store.createCall(org.id, {});
    const done = await store.completeCall(call.pk);
    expect(done?.changed).toBe(true);
    expect(done?.call.status).toBe('completed');
    expect(done?.call.endedAt).not.toBeNull();
    const again = await store.completeCall(call.pk);
    expect(again?.changed).toBe(false);
    expect(again?.call.endedAt).toBe(done?.call.endedAt);
    expect(await store.completeCall('missing')).toBeUndefined();
  });

  it('pages calls newest first with a cursor and filters by status', async () => {
    const org = await store.createOrg('Pages', false);
    const created: string[] = [];
    for (let i = 0; i < 7; i++)
      created.push((await store.createCall(org.id, { callId: `c${i}` })).call.callId);
    await store.completeCall((await store.getCall(org.id, 'c3'))!.pk);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listCalls(org.id, { limit: 3, cursor });
      seen.push(...page.calls.map((c) => c.callId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
    const active = await store.listCalls(org.id, { status: 'active', limit: 100 });
    expect(active.calls.map((c) => c.callId)).not.toContain('c3');
    expect(active.calls).toHaveLength(6);
    const completed = await store.listCalls(org.id, { status: 'completed', limit: 100 });
    expect(completed.calls.map((c) => c.callId)).toEqual(['c3']);
    await expect(store.listCalls(org.id, { limit: 3, cursor: 'garbage' })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });

  it('resolves listen tokens by hash and revokes all of a call', async () => {
    const org = await store.createOrg('Tokens', true);
    const { call } = await store.createCall(org.id, {});
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const t1 = await store.createListenToken(call.pk, expiresAt);
    const t2 = await store.createListenToken(call.pk, expiresAt);
    expect(t1).not.toBe(t2);
    expect(Buffer.from(t1, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(await store.resolveListenToken(t1)).toEqual({ callPk: call.pk, expiresAt, revoked: false });
    expect(await store.resolveListenToken('unknown')).toBeUndefined();
    expect(await store.revokedListenTokenHashes(call.pk)).toEqual([]);
    expect(await store.revokeListenTokens(call.pk)).toBe(2);
    expect((await store.resolveListenToken(t2))?.revoked).toBe(true);
    // A URL made after the revocation is live again, and not among the revoked.
    const t3 = await store.createListenToken(call.pk, expiresAt);
    expect((await store.revokedListenTokenHashes(call.pk)).sort()).toEqual(
      [hashSecret(t1), hashSecret(t2)].sort(),
    );
    expect((await store.revokedListenTokenHashes(call.pk)).includes(hashSecret(t3))).toBe(false);
    const ingest = await store.createIngestToken(call.pk);
    expect(await store.resolveIngestToken(ingest)).toBe(call.pk);
    expect(await store.resolveIngestToken(t1)).toBeUndefined();
  });

  it('finds idle active calls and forgets them once touched or completed', async () => {
    const org = await store.createOrg('Idle', false);
    const { call: idle } = await store.createCall(org.id, {});
    const { call: busy } = await store.createCall(org.id, {});
    const { call: done } = await store.createCall(org.id, {});
    await store.completeCall(done.pk);
    await new Promise((r) => setTimeout(r, 10));
    const cutoff = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await store.touchCalls([busy.pk]);
    const found = (await store.findIdleCalls(cutoff, 100)).map((c) => c.pk);
    expect(found).toContain(idle.pk);
    expect(found).not.toContain(busy.pk);
    expect(found).not.toContain(done.pk);
    expect(await store.countActiveCalls()).toBeGreaterThanOrEqual(2);
  });
});
