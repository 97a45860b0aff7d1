import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, type TestDatabase } from '../../test/helpers/databases.js';
import { migrationProvider } from './migrations.js';
import type { DatabaseConfig } from './open-store.js';
import { openStore } from './open-store.js';
import type { Database, ListenTokensTable } from './schema.js';
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

  it('migrates a database made by 0001 to the latest; its listen tokens keep working, minted by no key', async () => {
    const old = await backend.create();
    try {
      const raw = rawDatabase(old.config);
      const { error } = await new Migrator({ db: raw, provider: migrationProvider }).migrateTo(
        '0001_control_plane',
      );
      expect(error).toBeUndefined();
      const at = new Date().toISOString();
      const expires = new Date(Date.now() + 60_000).toISOString();
      await raw
        .insertInto('orgs')
        .values({ id: 'o1', name: 'Old', live_listen_enabled: 1, created_at: at })
        .execute();
      await raw
        .insertInto('calls')
        .values({
          pk: 'p1',
          org_id: 'o1',
          call_id: 'c1',
          status: 'active',
          created_at: at,
          last_activity_at: at,
        })
        .execute();
      await raw
        .insertInto('listen_tokens')
        .values({ token_hash: hashSecret('old-token'), call_pk: 'p1', created_at: at, expires_at: expires })
        .execute();
      await raw.destroy();
      const upgraded = await openStore(old.config);
      try {
        expect(await upgraded.resolveListenToken('old-token')).toEqual({
          callPk: 'p1',
          expiresAt: expires,
          revoked: false,
        });
        const key = await upgraded.createApiKey('o1');
        await upgraded.createListenToken('p1', expires, key.prefix);
        await upgraded.revokeApiKey(key.prefix);
        expect((await upgraded.resolveListenToken('old-token'))?.revoked).toBe(false);
      } finally {
        await upgraded.close();
      }
    } finally {
      await old.drop();
    }
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
    expect((await store.findApiKey(apiKey))?.org.id).toBe(org.id);
    expect(await store.findApiKey(`${apiKey}x`)).toBeUndefined();
    expect(await store.findApiKey(apiKey)).toEqual({ org, prefix });
    expect(await store.findApiKey(`${apiKey}x`)).toBeUndefined();
    expect(await store.revokeApiKey(prefix)).toEqual({ orgId: org.id });
    expect(await store.revokeApiKey(prefix)).toBeUndefined();
    expect(await store.revokeApiKey('esk_nothing')).toBeUndefined();
    expect(await store.findApiKey(apiKey)).toBeUndefined();
    expect(await store.findApiKey(apiKey)).toBeUndefined();
  });

  it('revoking a key revokes the listen tokens it minted, expired ones too, and no others', async () => {
    const org = await store.createOrg('Minting', true);
    const k1 = await store.createApiKey(org.id);
    const k2 = await store.createApiKey(org.id);
    const { call } = await store.createCall(org.id, {});
    const { call: ended } = await store.createCall(org.id, {});
    const later = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 1000).toISOString();
    const live = await store.createListenToken(call.pk, later, k1.prefix);
    const expired = await store.createListenToken(call.pk, past, k1.prefix);
    const onEnded = await store.createListenToken(ended.pk, later, k1.prefix);
    const bystander = await store.createListenToken(call.pk, later, k2.prefix);
    const keyless = await store.createListenToken(call.pk, later);
    await store.completeCall(ended.pk);
    // Only tokens of calls still active are listed (the others' listeners closed when they ended).
    const byCall = (rows: { callPk: string; tokenHash: string }[]) =>
      rows.map((r) => `${r.callPk}:${r.tokenHash}`).sort();
    expect(byCall(await store.listenTokensOfApiKey(k1.prefix))).toEqual(
      byCall([
        { callPk: call.pk, tokenHash: hashSecret(live) },
        { callPk: call.pk, tokenHash: hashSecret(expired) },
      ]),
    );
    expect(await store.revokeApiKey(k1.prefix)).toEqual({ orgId: org.id });
    for (const t of [live, expired, onEnded]) expect((await store.resolveListenToken(t))?.revoked).toBe(true);
    for (const t of [bystander, keyless]) expect((await store.resolveListenToken(t))?.revoked).toBe(false);
    expect((await store.revokedListenTokenHashes(call.pk)).sort()).toEqual(
      [hashSecret(live), hashSecret(expired)].sort(),
    );
    // Still listed once revoked: a revocation announced again finds the same listeners.
    expect(await store.listenTokensOfApiKey(k1.prefix)).toHaveLength(2);
    expect(await store.listenTokensOfApiKey(k2.prefix)).toEqual([
      { callPk: call.pk, tokenHash: hashSecret(bystander) },
    ]);
    expect(await store.listenTokensOfApiKey('esk_nothing')).toEqual([]);
  });

  it('turning live listen off revokes every listen token of the org, and turning it on revives none', async () => {
    const org = await store.createOrg('Switch', true);
    const other = await store.createOrg('Elsewhere', true);
    const { call } = await store.createCall(org.id, {});
    const { call: ended } = await store.createCall(org.id, {});
    const { call: foreign } = await store.createCall(other.id, {});
    await store.completeCall(ended.pk);
    const later = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 1000).toISOString();
    const tokens = [
      await store.createListenToken(call.pk, later),
      await store.createListenToken(call.pk, past),
      await store.createListenToken(ended.pk, later),
    ];
    const foreignToken = await store.createListenToken(foreign.pk, later);
    expect(await store.activeCallPks(org.id)).toEqual([call.pk]);
    expect(await store.activeCallPks('nope')).toEqual([]);
    expect((await store.setLiveListenEnabled(org.id, false))?.liveListenEnabled).toBe(false);
    for (const t of tokens) expect((await store.resolveListenToken(t))?.revoked).toBe(true);
    expect((await store.resolveListenToken(foreignToken))?.revoked).toBe(false);
    expect((await store.setLiveListenEnabled(org.id, true))?.liveListenEnabled).toBe(true);
    for (const t of tokens) expect((await store.resolveListenToken(t))?.revoked).toBe(true);
    // Turning it on revokes nothing.
    const fresh = await store.createListenToken(call.pk, later);
    await store.setLiveListenEnabled(org.id, true);
    expect((await store.resolveListenToken(fresh))?.revoked).toBe(false);
  });

  it('ingest keys: stored as hashes, found while live, listed without secrets, revoked per org, last use recorded', async () => {
    const org = await store.createOrg('Ingest', false);
    const other = await store.createOrg('Other', false);
    const plain = await store.createIngestKey(org.id, { name: 'twilio prod', clientSecret: null });
    const signed = await store.createIngestKey(org.id, { name: null, clientSecret: 'c2VjcmV0' });
    expect(plain.ingestKey).toMatch(/^eik_[A-Za-z0-9_-]{43}$/);
    expect(plain.prefix).toBe(plain.ingestKey.slice(0, 12));
    expect(plain).toMatchObject({ name: 'twilio prod', lastUsedAt: null });
    // Only a digest is stored.
    const raw = JSON.stringify(await store.listIngestKeys(org.id));
    expect(raw).not.toContain(plain.ingestKey);
    expect(await store.findIngestKey(plain.ingestKey)).toEqual({
      org,
      prefix: plain.prefix,
      clientSecret: null,
    });
    expect((await store.findIngestKey(signed.ingestKey))?.clientSecret).toBe('c2VjcmV0');
    // Not an API key, and an API key is not an ingest key.
    expect(await store.findApiKey(plain.ingestKey)).toBeUndefined();
    const { apiKey } = await store.createApiKey(org.id);
    expect(await store.findIngestKey(apiKey)).toBeUndefined();
    await store.touchIngestKey(plain.prefix);
    const listed = await store.listIngestKeys(org.id);
    expect(listed.map((k) => k.prefix).sort()).toEqual([plain.prefix, signed.prefix].sort());
    expect(listed.find((k) => k.prefix === plain.prefix)?.lastUsedAt).toMatch(/^\d{4}-/);
    expect(await store.listIngestKeys(other.id)).toEqual([]);
    // Another org cannot revoke it; its own can, once.
    expect(await store.revokeIngestKey(plain.prefix, other.id)).toBeUndefined();
    expect(await store.revokeIngestKey(plain.prefix, org.id)).toEqual({ orgId: org.id });
    expect(await store.revokeIngestKey(plain.prefix)).toBeUndefined();
    expect(await store.findIngestKey(plain.ingestKey)).toBeUndefined();
    expect((await store.listIngestKeys(org.id)).map((k) => k.prefix)).toEqual([signed.prefix]);
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
    expect(await store.countActiveCalls(org.id)).toBe(2);
    expect(await store.countActiveCalls(crypto.randomUUID())).toBe(0);
  });
});

/** The tables as migration 0001 made them. */
type Database0001 = Omit<Database, 'listen_tokens'> & {
  listen_tokens: Omit<ListenTokensTable, 'api_key_prefix'>;
};

/** A bare Kysely on the test database, to build it as an older release left it. */
function rawDatabase(config: DatabaseConfig): Kysely<Database0001> {
  return new Kysely<Database0001>({
    dialect:
      config.kind === 'sqlite'
        ? new SqliteDialect({ database: new SQLite(config.path) })
        : new PostgresDialect({ pool: new pg.Pool({ connectionString: config.url, max: 1 }) }),
  });
}
