import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/databases.js';
import { createLiveCall } from '../helpers/live-call.js';
import { jsonRequest, LISTENER_MODES, startTestServer, type TestServer } from '../helpers/server.js';
import {
  closedWith,
  expectUpgradeRefused,
  openListener,
  openSocket,
  sendPaced,
  type TestListener,
} from '../helpers/ws-clients.js';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';
const admin = `Bearer ${ADMIN_TOKEN}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with how a socket closed, or with 'open' when it is still open after `ms`. */
const closedWithin = (l: { closed: Promise<{ code: number; reason: string }> }, ms: number) =>
  Promise.race([l.closed, sleep(ms).then(() => 'open' as const)]);

/** Fails unless the listener receives audio (several messages) during the next 300 ms. */
async function expectStreaming(l: TestListener): Promise<void> {
  const before = l.binary.length;
  await sleep(300);
  expect(l.binary.length).toBeGreaterThan(before + 5);
}

/** A second API key of the org, through the admin API. */
async function secondKey(ts: TestServer, orgId: string): Promise<{ apiKey: string; prefix: string }> {
  const r = await jsonRequest(ts, 'POST', `/admin/v1/orgs/${orgId}/keys`, { apiKey: admin });
  expect(r.status, r.text).toBe(200);
  return { apiKey: r.body.data.api_key, prefix: r.body.data.key_prefix };
}

/** A listen URL of the call minted with this key. */
async function listenUrl(ts: TestServer, callId: string, apiKey: string): Promise<string> {
  const r = await jsonRequest(ts, 'POST', `/v1/calls/${callId}/listen`, { apiKey });
  expect(r.status, r.text).toBe(200);
  return r.body.data.url;
}

const setLiveListen = (ts: TestServer, apiKey: string, on: boolean) =>
  jsonRequest(ts, 'PATCH', '/v1/org/preferences', { apiKey, body: { live_listen_enabled: on } });

describe.each(LISTENER_MODES)('%s: revocation closes sockets now', (_mode, modeEnv) => {
  let ts: TestServer;
  let ws: string;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, { EARSHOT_ADMIN_TOKEN: ADMIN_TOKEN, ...modeEnv });
    ws = ts.url.replace(/^http/, 'ws');
  });
  afterAll(() => ts?.close());

  it('turning live listen off closes every listener of the org with 4001 "revoked"; its old URLs stay refused once it is on again', async () => {
    const org = await ts.createOrg({ liveListen: true });
    const bystanderOrg = await ts.createOrg({ liveListen: true });
    const calls = [await createLiveCall(ts, org.apiKey), await createLiveCall(ts, org.apiKey)];
    const urls = [await calls[0].listenUrl(), await calls[0].listenUrl(), await calls[1].listenUrl()];
    const listeners = await Promise.all(urls.map((u) => openListener(u)));
    const bystander = await openListener(await (await createLiveCall(ts, bystanderOrg.apiKey)).listenUrl());

    const off = await setLiveListen(ts, org.apiKey, false);
    expect(off.body.data).toEqual({ live_listen_enabled: false });
    for (const l of listeners) expect(await closedWithin(l, 2000)).toEqual({ code: 4001, reason: 'revoked' });
    for (const u of urls) {
      const refused = await expectUpgradeRefused(u);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ status: 'error', data: null, errors: [{ code: 'UNAUTHORIZED' }] });
    }
    await expectStreaming(bystander);

    // On again: the old URLs are revoked for good; a new one works.
    expect((await setLiveListen(ts, org.apiKey, true)).body.data).toEqual({ live_listen_enabled: true });
    for (const u of urls) expect((await expectUpgradeRefused(u)).status).toBe(401);
    const fresh = await openListener(await calls[0].listenUrl());
    await expectStreaming(fresh);
    fresh.ws.close();
    bystander.ws.close();
  });

  it('refuses a listen URL that was never revoked while the org has live listen off (401, envelope)', async () => {
    const org = await ts.createOrg({ liveListen: true });
    const call = await createLiveCall(ts, org.apiKey);
    const url = await call.listenUrl();
    // Flip the preference behind the server's back: the token itself stays live.
    const setFlag = (on: boolean) => {
      const db = new SQLite((ts.db.config as { path: string }).path);
      try {
        db.prepare('update orgs set live_listen_enabled = ? where id = ?').run(on ? 1 : 0, org.orgId);
      } finally {
        db.close();
      }
    };
    setFlag(false);
    const refused = await expectUpgradeRefused(url);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({
      status: 'error',
      data: null,
      errors: [{ code: 'UNAUTHORIZED', message: 'Listen token is unknown, revoked or expired' }],
    });
    setFlag(true);
    const listener = await openListener(url);
    listener.ws.close();
  });

  it("revoking an API key closes the listeners of the URLs it minted and the ingest sockets it authenticated; the org's other key, its URLs and token ingest carry on", async () => {
    const org = await ts.createOrg({ liveListen: true });
    const other = await secondKey(ts, org.orgId);
    const call = await createLiveCall(ts, org.apiKey);
    const second = await createLiveCall(ts, other.apiKey);
    const minted = [await listenUrl(ts, call.id, org.apiKey), await listenUrl(ts, second.id, org.apiKey)];
    const bystanderUrl = await listenUrl(ts, call.id, other.apiKey);
    const doomed = await Promise.all(minted.map((u) => openListener(u)));
    const bystander = await openListener(bystanderUrl);

    const ingestPath = (participant: string) =>
      `${ws}/ws/ingest/${call.id}?participant=${participant}&encoding=pcm16&sample_rate=16000`;
    const byKey = await openSocket(ingestPath('bot'), { authorization: org.apiKey });
    const byOtherKey = await openSocket(ingestPath('agent'), { authorization: `Bearer ${other.apiKey}` });
    const byToken = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
    const byKeyClosed = { closed: closedWith(byKey) };
    // The token's ingest keeps sending throughout.
    const frame = Buffer.alloc(640);
    const feeding = sendPaced(byToken, new Array(50).fill(frame), 20, (f) => f);

    const r = await jsonRequest(ts, 'DELETE', `/admin/v1/keys/${org.prefix}`, { apiKey: admin });
    expect(r.status, r.text).toBe(200);
    for (const l of doomed) expect(await closedWithin(l, 2000)).toEqual({ code: 4001, reason: 'revoked' });
    expect(await closedWithin(byKeyClosed, 2000)).toEqual({ code: 4001, reason: 'revoked' });
    for (const u of minted) {
      const refused = await expectUpgradeRefused(u);
      expect(refused.status).toBe(401);
      expect(refused.body.errors[0].code).toBe('UNAUTHORIZED');
    }
    await expectStreaming(bystander);
    expect(byToken.readyState).toBe(byToken.OPEN);
    expect(byOtherKey.readyState).toBe(byOtherKey.OPEN);
    const later = await openListener(bystanderUrl);

    // The revoked key is refused everywhere; the other key still mints working URLs.
    expect((await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey: org.apiKey })).status).toBe(401);
    const again = await expectUpgradeRefused(ingestPath('bot'), { authorization: org.apiKey });
    expect(again.status).toBe(401);
    const state = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey: other.apiKey });
    const connected = Object.fromEntries(
      state.body.data.participants.map((p: { name: string; connected: boolean }) => [p.name, p.connected]),
    );
    expect(connected).toEqual({ bot: false, agent: true, caller: true });
    await feeding;
    expect(byToken.readyState).toBe(byToken.OPEN);
    for (const s of [byToken, byOtherKey]) s.close();
    for (const l of [bystander, later]) l.ws.close();
  });
});

describe.each(LISTENER_MODES.slice(0, 2))(
  '%s: listeners connected before their URL expired (EARSHOT_LISTEN_TOKEN_TTL_S=1)',
  (_mode, modeEnv) => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer(sqliteBackend, {
        EARSHOT_ADMIN_TOKEN: ADMIN_TOKEN,
        EARSHOT_LISTEN_TOKEN_TTL_S: '1',
        ...modeEnv,
      });
    });
    afterAll(() => ts?.close());

    it('are closed by revoking the key that minted the URL, and by turning live listen off', async () => {
      const org = await ts.createOrg({ liveListen: true });
      const other = await secondKey(ts, org.orgId);
      const call = await createLiveCall(ts, org.apiKey);
      const byKey = await openListener(await listenUrl(ts, call.id, org.apiKey));
      const byOther = await openListener(await listenUrl(ts, call.id, other.apiKey));
      await sleep(1200);
      // Both URLs have expired; both listeners still stream.
      await expectStreaming(byOther);

      await jsonRequest(ts, 'DELETE', `/admin/v1/keys/${org.prefix}`, { apiKey: admin });
      expect(await closedWithin(byKey, 2000)).toEqual({ code: 4001, reason: 'revoked' });
      await expectStreaming(byOther);

      await setLiveListen(ts, other.apiKey, false);
      expect(await closedWithin(byOther, 2000)).toEqual({ code: 4001, reason: 'revoked' });
    });
  },
);
