import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { backends, sqliteBackend } from '../helpers/databases.js';
import { jsonRequest, LISTENER_MODES, startTestServer, type TestServer } from '../helpers/server.js';
import { sine } from '../helpers/signals.js';
import {
  closedWith,
  expectUpgradeRefused,
  openListener,
  openSocket,
  pcm16Bytes,
} from '../helpers/ws-clients.js';

/**
 * SPEC §4.4: ingest keys — created, listed and revoked through /v1/ingest-keys, accepted by every
 * ingest endpoint and nowhere else — and the calls they make appear by themselves: the first
 * connection of an unknown call id creates it (the platform's own id by default), a completed call
 * is never reopened, and connections racing to create the same call make one.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TWILIO_SESSION = readFileSync(new URL('../fixtures/twilio/session.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n');

async function createIngestKey(ts: TestServer, apiKey: string, body: object = {}) {
  const r = await jsonRequest(ts, 'POST', '/v1/ingest-keys', { apiKey, body });
  expect(r.status, r.text).toBe(200);
  return r.body.data as { ingest_key: string; prefix: string; name: string | null; created_at: string };
}

/** The Twilio fixture's connected and start messages, with the CallSid named `callSid` and no call_id. */
function twilioStart(callSid: string, token: string | null): string[] {
  return TWILIO_SESSION.slice(0, 2).map((line) => {
    const message = JSON.parse(line);
    if (message.event === 'start') {
      message.start.callSid = callSid;
      message.start.customParameters = token === null ? {} : { token };
    }
    return JSON.stringify(message);
  });
}

/** 20 ms Twilio media messages of silence on both tracks, `count` of each. */
function twilioMedia(count: number): string[] {
  const payload = Buffer.alloc(160, 0xff).toString('base64');
  const out: string[] = [];
  for (let i = 0; i < count; i++)
    for (const track of ['inbound', 'outbound'])
      out.push(
        JSON.stringify({ event: 'media', media: { track, chunk: `${i}`, timestamp: `${i * 20}`, payload } }),
      );
  return out;
}

const getCall = (ts: TestServer, apiKey: string, id: string) =>
  jsonRequest(ts, 'GET', `/v1/calls/${id}`, { apiKey });

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await sleep(50);
  }
}

describe.each(LISTENER_MODES)('%s: ingest keys', (_mode, modeEnv) => {
  let ts: TestServer;
  let ws: string;
  let org: { orgId: string; apiKey: string };

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, modeEnv);
    ws = ts.url.replace(/^http/, 'ws');
    org = await ts.createOrg({ liveListen: true });
  });
  afterAll(() => ts?.close());

  it('are created (shown once), listed without the key, and refused by /v1 and by listen URLs', async () => {
    const key = await createIngestKey(ts, org.apiKey, { name: 'Twilio production' });
    expect(key.ingest_key).toMatch(/^eik_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ prefix: key.ingest_key.slice(0, 12), name: 'Twilio production' });
    const list = await jsonRequest(ts, 'GET', '/v1/ingest-keys', { apiKey: org.apiKey });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(key.ingest_key);
    expect(list.body.data.ingest_keys).toContainEqual({
      prefix: key.prefix,
      name: 'Twilio production',
      created_at: key.created_at,
      last_used_at: null,
    });
    // Nowhere but ingest: the API answers it 401, and so does a listen socket.
    for (const [method, path] of [
      ['GET', '/v1/calls'],
      ['POST', '/v1/calls'],
      ['GET', '/v1/ingest-keys'],
    ] as const) {
      const r = await jsonRequest(ts, method, path, { apiKey: key.ingest_key });
      expect(r.status, `${method} ${path}`).toBe(401);
    }
    const refused = await expectUpgradeRefused(`${ws}/ws/listen/any?token=${key.ingest_key}`);
    expect(refused.status).toBe(401);
    // Bad bodies and unknown keys.
    expect(
      (await jsonRequest(ts, 'POST', '/v1/ingest-keys', { apiKey: org.apiKey, body: { nope: 1 } })).status,
    ).toBe(400);
    expect(
      (
        await jsonRequest(ts, 'POST', '/v1/ingest-keys', {
          apiKey: org.apiKey,
          body: { client_secret: 'not base64!' },
        })
      ).status,
    ).toBe(400);
    expect(
      (await jsonRequest(ts, 'DELETE', '/v1/ingest-keys/eik_nothing', { apiKey: org.apiKey })).status,
    ).toBe(404);
  });

  it('a Twilio stream with the key and no call_id creates the call under its CallSid; the stop completes it; it is never reopened', async () => {
    const key = await createIngestKey(ts, org.apiKey);
    const callSid = `CA${'0'.repeat(24)}${Date.now().toString(16).slice(-8)}`;
    expect((await getCall(ts, org.apiKey, callSid)).status).toBe(404);
    const twilio = await openSocket(`${ws}/ws/twilio`);
    for (const m of twilioStart(callSid, key.ingest_key)) twilio.send(m);
    const created = await waitFor(
      () => getCall(ts, org.apiKey, callSid),
      (r) => r.status === 200 && r.body.data.participants.length === 2,
    );
    expect(created.status, created.text).toBe(200);
    expect(created.body.data).toMatchObject({
      call_id: callSid,
      status: 'active',
      metadata: { source: 'twilio' },
    });
    // Each participant says where it comes from and in which codec.
    expect(created.body.data.participants).toEqual(
      ['caller', 'agent'].map((name) =>
        expect.objectContaining({ name, platform: 'twilio', encoding: 'mulaw', sample_rate: 8000 }),
      ),
    );
    const metrics = await (await ts.request('/metrics')).text();
    expect(metrics).toMatch(/^earshot_ingest_connections_total\{platform="twilio"\} [1-9]/m);
    const listenUrl = (await jsonRequest(ts, 'POST', `/v1/calls/${callSid}/listen`, { apiKey: org.apiKey }))
      .body.data.url as string;
    const listener = await openListener(listenUrl);
    for (const m of twilioMedia(25)) twilio.send(m);
    await sleep(300);
    expect(listener.binary.length).toBeGreaterThan(5);
    // The frames were counted by platform (25 messages of 20 ms on each of the two tracks).
    const counted = await (await ts.request('/metrics')).text();
    expect(
      Number(/^earshot_ingest_platform_frames_total\{platform="twilio"\} (\d+)$/m.exec(counted)?.[1]),
    ).toBeGreaterThanOrEqual(50);
    twilio.send(JSON.stringify({ event: 'stop', stop: { callSid } }));
    expect(await listener.closed).toEqual({ code: 1000, reason: 'call ended' });
    twilio.close();
    expect((await getCall(ts, org.apiKey, callSid)).body.data.status).toBe('completed');
    // The same CallSid again: refused after its start (1008), the call stays completed.
    const again = await openSocket(`${ws}/ws/twilio`);
    const closed = closedWith(again);
    for (const m of twilioStart(callSid, key.ingest_key)) again.send(m);
    expect(await closed).toMatchObject({ code: 1008 });
    // With the key and the call id on the URL, refused at the upgrade: 409.
    const completed = await expectUpgradeRefused(
      `${ws}/ws/twilio?token=${key.ingest_key}&call_id=${callSid}`,
    );
    expect(completed.status).toBe(409);
    // And a call id that cannot be one is a 400 there.
    const atUpgrade = await expectUpgradeRefused(`${ws}/ws/twilio?token=${key.ingest_key}&call_id=nope:"`);
    expect(atUpgrade.status).toBe(400);
    // Its use is recorded.
    const listed = await jsonRequest(ts, 'GET', '/v1/ingest-keys', { apiKey: org.apiKey });
    const entry = listed.body.data.ingest_keys.find((k: { prefix: string }) => k.prefix === key.prefix);
    expect(entry.last_used_at).toMatch(/^\d{4}-/);
  });

  it('generic ingest with the key (query or header) creates the call by the id in its path', async () => {
    const key = await createIngestKey(ts, org.apiKey);
    const pcm = pcm16Bytes(sine({ freqHz: 440, sampleRateHz: 8000, length: 160, amplitudeDbfs: -20 }));
    const viaQuery = await openSocket(`${ws}/ws/ingest/by-query?token=${key.ingest_key}&participant=bot`);
    const viaHeader = await openSocket(`${ws}/ws/ingest/by-header?participant=bot`, {
      authorization: `Bearer ${key.ingest_key}`,
    });
    viaQuery.send(pcm);
    viaHeader.send(pcm);
    for (const id of ['by-query', 'by-header']) {
      const r = await getCall(ts, org.apiKey, id);
      expect(r.status, r.text).toBe(200);
      expect(r.body.data).toMatchObject({ status: 'active', metadata: { source: 'generic' } });
    }
    viaQuery.close();
    viaHeader.close();
    // A key of another organization cannot reach this org's calls: it makes its own.
    const other = await ts.createOrg({ liveListen: true });
    const otherKey = await createIngestKey(ts, other.apiKey);
    const foreign = await openSocket(`${ws}/ws/ingest/by-query?token=${otherKey.ingest_key}&participant=x`);
    foreign.close();
    expect((await getCall(ts, other.apiKey, 'by-query')).status).toBe(200);
    expect(
      (await getCall(ts, org.apiKey, 'by-query')).body.data.participants.map((p: { name: string }) => p.name),
    ).toEqual(['bot']);
  });

  it('revoking a key closes the connections it opened (4001) and refuses new ones (401); others stay', async () => {
    const key = await createIngestKey(ts, org.apiKey);
    const keep = await createIngestKey(ts, org.apiKey);
    const opened: WebSocket[] = [];
    opened.push(await openSocket(`${ws}/ws/ingest/revoke-a?token=${key.ingest_key}&participant=p1`));
    const twilio = await openSocket(`${ws}/ws/twilio`);
    for (const m of twilioStart('CArevoke0000000000000000000000000b', key.ingest_key)) twilio.send(m);
    await waitFor(
      () => getCall(ts, org.apiKey, 'CArevoke0000000000000000000000000b'),
      (r) => r.status === 200,
    );
    opened.push(twilio);
    const survivor = await openSocket(`${ws}/ws/ingest/revoke-a?token=${keep.ingest_key}&participant=p2`);
    await sleep(100);
    const closes = opened.map(closedWith);
    const survivorClose = Promise.race([closedWith(survivor), sleep(700).then(() => 'open')]);
    // Another org cannot revoke it.
    const other = await ts.createOrg({ liveListen: true });
    expect(
      (await jsonRequest(ts, 'DELETE', `/v1/ingest-keys/${key.prefix}`, { apiKey: other.apiKey })).status,
    ).toBe(404);
    const r = await jsonRequest(ts, 'DELETE', `/v1/ingest-keys/${key.prefix}`, { apiKey: org.apiKey });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toEqual({ prefix: key.prefix, revoked: true });
    for (const closed of await Promise.all(closes)) expect(closed).toEqual({ code: 4001, reason: 'revoked' });
    expect(await survivorClose).toBe('open');
    survivor.close();
    expect(
      (await expectUpgradeRefused(`${ws}/ws/ingest/revoke-a?token=${key.ingest_key}&participant=p3`)).status,
    ).toBe(401);
    expect((await expectUpgradeRefused(`${ws}/ws/twilio?token=${key.ingest_key}`)).status).toBe(401);
    const late = await openSocket(`${ws}/ws/twilio`);
    const lateClosed = closedWith(late);
    for (const m of twilioStart('CArevoke0000000000000000000000000c', key.ingest_key)) late.send(m);
    expect(await lateClosed).toMatchObject({ code: 1008 });
    expect((await jsonRequest(ts, 'GET', '/v1/ingest-keys', { apiKey: org.apiKey })).text).not.toContain(
      key.prefix,
    );
  });
});

describe.each(backends)('ingest keys on $name: connections racing to create one call', (backend) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer(backend);
  });
  afterAll(() => ts?.close());

  it('twelve connections of one new call id at once make one call with all their participants', async () => {
    const org = await ts.createOrg({ liveListen: true });
    const key = await createIngestKey(ts, org.apiKey);
    const ws = ts.url.replace(/^http/, 'ws');
    const sockets = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        openSocket(`${ws}/ws/ingest/race?token=${key.ingest_key}&participant=p${i}`),
      ),
    );
    const listed = await jsonRequest(ts, 'GET', '/v1/calls?status=active', { apiKey: org.apiKey });
    expect(listed.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual(['race']);
    const call = await waitFor(
      () => getCall(ts, org.apiKey, 'race'),
      (r) => r.body.data.participants.length === 12,
    );
    expect(call.body.data.participants).toHaveLength(12);
    for (const s of sockets) s.close();
  });
});
