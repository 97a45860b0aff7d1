import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { sqliteBackend } from '../helpers/databases.js';
import { openFrom, requestFrom } from '../helpers/from-address.js';
import { createLiveCall } from '../helpers/live-call.js';
import { jsonRequest, LISTENER_MODES, startTestServer, type TestServer } from '../helpers/server.js';
import { closedWith, openSocket } from '../helpers/ws-clients.js';

const ADMIN_TOKEN = 'admin-token-for-limits-test';
const randomKey = () => `esk_${randomBytes(32).toString('base64url')}`;

/** Twilio's `connected` and `start` messages for a stream into `callId` authorized by `token`. */
function sendTwilioStart(ws: WebSocket, callId: string, token: string, tracks: string[]): void {
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid: 'MZ1',
      start: {
        streamSid: 'MZ1',
        callSid: 'CA1',
        accountSid: 'AC1',
        tracks,
        customParameters: { call_id: callId, token },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    }),
  );
}

/** Wraps a store method to count its calls (the credential lookups an attacker causes). */
function countCalls<T extends object>(target: T, method: keyof T): { n: number } {
  const counter = { n: 0 };
  const original = (target[method] as (...a: unknown[]) => unknown).bind(target);
  (target as Record<keyof T, unknown>)[method] = (...args: unknown[]) => {
    counter.n++;
    return original(...args);
  };
  return counter;
}

/**
 * SPEC §2: failed authentications are limited per client address, before any credential is looked
 * up. Each test is its own client address (127.0.0.x), so the limit of one never touches another.
 */
describe('failed authentications are limited per client address', () => {
  let ts: TestServer;
  let apiKey: string;
  const LIMIT = 5;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, {
      EARSHOT_AUTH_FAILURES_PER_MIN: String(LIMIT),
      EARSHOT_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    apiKey = (await ts.createOrg({ liveListen: true })).apiKey;
  });
  afterAll(() => ts?.close());

  it('wrong API keys: 401 up to the limit, then 429 with retry-after and no lookup — even for a valid key; other addresses keep answering', async () => {
    const lookups = countCalls(ts.server.deps.store, 'findApiKey');
    for (let i = 0; i < LIMIT; i++) {
      const r = await requestFrom('127.0.0.2', `${ts.url}/v1/calls`, {
        headers: { authorization: randomKey() },
      });
      expect(r.status).toBe(401);
    }
    const looked = lookups.n;
    for (let i = 0; i < 20; i++) {
      const r = await requestFrom('127.0.0.2', `${ts.url}/v1/calls`, {
        headers: { authorization: randomKey() },
      });
      expect(r.status).toBe(429);
      expect(r.body.errors[0].code).toBe('RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    const valid = await requestFrom('127.0.0.2', `${ts.url}/v1/calls`, {
      headers: { authorization: apiKey },
    });
    expect(valid.status).toBe(429);
    expect(lookups.n).toBe(looked);
    // Another client is not affected, with or without a key.
    expect(
      (await requestFrom('127.0.0.3', `${ts.url}/v1/calls`, { headers: { authorization: apiKey } })).status,
    ).toBe(200);
    expect((await requestFrom('127.0.0.3', `${ts.url}/v1/calls`)).status).toBe(401);
    expect((await requestFrom('127.0.0.3', `${ts.url}/healthz`)).status).toBe(200);
    const metrics = await (await ts.request('/metrics')).text();
    expect(metrics).toMatch(/earshot_auth_failures_total\{outcome="limited"\} [1-9]/);
  });

  it('requests without any key count as failures too', async () => {
    for (let i = 0; i < LIMIT; i++)
      expect((await requestFrom('127.0.0.4', `${ts.url}/v1/org/preferences`)).status).toBe(401);
    expect((await requestFrom('127.0.0.4', `${ts.url}/v1/org/preferences`)).status).toBe(429);
  });

  it('a wrong admin token', async () => {
    const headers = { authorization: 'Bearer not-the-admin-token-at-all' };
    for (let i = 0; i < LIMIT; i++)
      expect(
        (
          await requestFrom('127.0.0.5', `${ts.url}/admin/v1/orgs`, {
            method: 'POST',
            headers,
            body: { name: 'x' },
          })
        ).status,
      ).toBe(401);
    const r = await requestFrom('127.0.0.5', `${ts.url}/admin/v1/orgs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { name: 'x' },
    });
    expect(r.status).toBe(429);
  });

  it('forged listen tokens at the upgrade: refused 401, then 429 before the token is looked up', async () => {
    const call = await createLiveCall(ts, apiKey);
    const lookups = countCalls(ts.server.deps.store, 'resolveListenToken');
    const forged = `${ts.url.replace('http', 'ws')}/ws/listen/${call.id}?token=${randomBytes(32).toString('base64url')}`;
    for (let i = 0; i < LIMIT; i++) {
      const r = await openFrom('127.0.0.6', forged);
      expect('status' in r && r.status).toBe(401);
    }
    const looked = lookups.n;
    const refused = await openFrom('127.0.0.6', await call.listenUrl());
    expect('status' in refused && refused.status).toBe(429);
    expect('body' in refused && refused.body.errors[0].code).toBe('RATE_LIMITED');
    expect(lookups.n).toBe(looked);
    // The real URL still works from elsewhere.
    const ok = await openFrom('127.0.0.7', await call.listenUrl());
    expect('ws' in ok).toBe(true);
    if ('ws' in ok) ok.ws.close();
  });

  it('forged ingest tokens at the upgrade', async () => {
    const call = await createLiveCall(ts, apiKey);
    const forged = `${ts.url.replace('http', 'ws')}/ws/ingest/${call.id}?token=nope&participant=caller&encoding=pcm16&sample_rate=16000`;
    for (let i = 0; i < LIMIT; i++) {
      const r = await openFrom('127.0.0.8', forged);
      expect('status' in r && r.status).toBe(401);
    }
    const r = await openFrom(
      '127.0.0.8',
      call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'),
    );
    expect('status' in r && r.status).toBe(429);
  });

  it('forged tokens in Twilio start messages count too, and then the upgrade itself is refused', async () => {
    const url = `${ts.url.replace('http', 'ws')}/ws/twilio`;
    for (let i = 0; i < LIMIT; i++) {
      const r = await openFrom('127.0.0.9', url);
      if (!('ws' in r)) throw new Error(`upgrade refused: ${r.status}`);
      const closed = closedWith(r.ws);
      sendTwilioStart(r.ws, 'nope', 'forged', ['inbound']);
      expect((await closed).code).toBe(1008);
    }
    const r = await openFrom('127.0.0.9', url);
    expect('status' in r && r.status).toBe(429);
  });
});

/** SPEC §7: the limits, each refused with QUOTA_EXCEEDED naming it, and freed again when sockets close. */
describe.each(LISTENER_MODES.slice(0, 2))('limits (%s)', (_mode, env) => {
  let ts: TestServer;
  // Each test has an organization of its own: the limits it fills up are nobody else's.
  let apiKey: string;
  beforeEach(async () => {
    apiKey = (await ts.createOrg({ liveListen: true })).apiKey;
  });

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, {
      ...env,
      EARSHOT_MAX_LISTENERS_PER_CALL: '2',
      EARSHOT_MAX_LISTENERS_PER_ORG: '3',
      EARSHOT_MAX_PARTICIPANTS_PER_CALL: '2',
      EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: '3',
      EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: '4',
      EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS: '4',
    });
  });
  afterAll(() => ts?.close());

  const expectQuota = (r: { status: number; body: any }, variable: string) => {
    expect(r.status).toBe(429);
    expect(r.body.status).toBe('error');
    expect(r.body.errors[0].code).toBe('QUOTA_EXCEEDED');
    expect(r.body.errors[0].message).toContain(variable);
  };
  const open = async (url: string, from = '127.0.0.1') => {
    const r = await openFrom(from, url);
    if (!('ws' in r)) throw new Error(`refused: ${r.status} ${JSON.stringify(r.body)}`);
    return r.ws;
  };
  const closeAll = async (sockets: WebSocket[]) => {
    await Promise.all(
      sockets.map((ws) => {
        const closed = closedWith(ws);
        ws.close();
        return closed;
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
  };

  it('listeners per call, then per organization; closing one frees its place', async () => {
    const a = await createLiveCall(ts, apiKey);
    const b = await createLiveCall(ts, apiKey);
    const onA = [await open(await a.listenUrl()), await open(await a.listenUrl())];
    const third = await openFrom('127.0.0.1', await a.listenUrl());
    expectQuota(third as never, 'EARSHOT_MAX_LISTENERS_PER_CALL');
    const onB = [await open(await b.listenUrl())];
    const fourth = await openFrom('127.0.0.1', await b.listenUrl());
    expectQuota(fourth as never, 'EARSHOT_MAX_LISTENERS_PER_ORG');
    await closeAll([onA[0]]);
    onB.push(await open(await b.listenUrl()));
    await closeAll([...onA.slice(1), ...onB]);
    await jsonRequest(ts, 'POST', `/v1/calls/${a.id}/stop`, { apiKey });
    await jsonRequest(ts, 'POST', `/v1/calls/${b.id}/stop`, { apiKey });
  });

  it('participants per call, counted over the call; a reconnecting participant takes over instead', async () => {
    const call = await createLiveCall(ts, apiKey);
    const q = 'encoding=pcm16&sample_rate=16000';
    const caller = await openSocket(call.ingestUrl(`participant=caller&${q}`));
    const agent = await openSocket(call.ingestUrl(`participant=agent&${q}`));
    await new Promise((r) => setTimeout(r, 100));
    const third = await openFrom('127.0.0.1', call.ingestUrl(`participant=supervisor&${q}`));
    expectQuota(third as never, 'EARSHOT_MAX_PARTICIPANTS_PER_CALL');
    const replaced = closedWith(caller);
    const again = await openSocket(call.ingestUrl(`participant=caller&${q}`));
    expect((await replaced).code).toBe(4002);
    await closeAll([again, agent]);
    await jsonRequest(ts, 'POST', `/v1/calls/${call.id}/stop`, { apiKey });
  });

  it('participants per call at a Twilio start: the stream is closed 1008 QUOTA_EXCEEDED naming the limit', async () => {
    const call = await createLiveCall(ts, apiKey);
    const other = await openSocket(call.ingestUrl('participant=supervisor&encoding=pcm16&sample_rate=16000'));
    await new Promise((r) => setTimeout(r, 100));
    const twilio = await openSocket(`${ts.url.replace('http', 'ws')}/ws/twilio`);
    const closed = closedWith(twilio);
    sendTwilioStart(twilio, call.id, call.ingestToken, ['inbound', 'outbound']);
    const { code, reason } = await closed;
    expect(code).toBe(1008);
    expect(reason).toContain('EARSHOT_MAX_PARTICIPANTS_PER_CALL');
    await closeAll([other]);
    await jsonRequest(ts, 'POST', `/v1/calls/${call.id}/stop`, { apiKey });
  });

  it('active calls per organization, counted in the database; an existing id is still returned', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createLiveCall(ts, apiKey, `quota-${i}`)).id);
    expectQuota(
      await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: {} }),
      'EARSHOT_MAX_ACTIVE_CALLS_PER_ORG',
    );
    expect(
      (await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: { call_id: 'quota-1' } })).status,
    ).toBe(200);
    // Another organization has its own count.
    const other = await ts.createOrg();
    expect((await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: other.apiKey, body: {} })).status).toBe(200);
    await jsonRequest(ts, 'POST', `/v1/calls/${ids[0]}/stop`, { apiKey });
    expect((await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: {} })).status).toBe(200);
  });

  it('WebSocket connections per client address, listeners and ingest together', async () => {
    const from = '127.0.0.20';
    const call = await createLiveCall(ts, apiKey);
    const other = await createLiveCall(ts, apiKey);
    const q = 'encoding=pcm16&sample_rate=16000';
    const held = [
      await open(await call.listenUrl(), from),
      await open(await other.listenUrl(), from),
      await open(call.ingestUrl(`participant=caller&${q}`), from),
      await open(other.ingestUrl(`participant=caller&${q}`), from),
    ];
    expectQuota(
      (await openFrom(from, await call.listenUrl())) as never,
      'EARSHOT_MAX_CONNECTIONS_PER_ADDRESS',
    );
    expectQuota(
      (await openFrom(from, `${ts.url.replace('http', 'ws')}/ws/twilio`)) as never,
      'EARSHOT_MAX_CONNECTIONS_PER_ADDRESS',
    );
    // Another address is unaffected.
    const elsewhere = await open(await call.listenUrl(), '127.0.0.21');
    await closeAll([held[0], elsewhere]);
    held[0] = await open(await call.listenUrl(), from);
    await closeAll(held);
    const metrics = await (await ts.request('/metrics')).text();
    expect(metrics).toMatch(/earshot_quota_refusals_total\{limit="connections_per_address"\} [1-9]/);
  });

  it('plain HTTP connections per peer address: a request on one past the bound gets 429 and a close', async () => {
    const from = '127.0.0.30';
    const idle = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect({ host: '127.0.0.1', port: ts.server.port, localAddress: from }, () =>
              resolve(s),
            );
            s.once('error', reject);
          }),
      ),
    );
    const refused = await requestFrom(from, `${ts.url}/healthz`);
    expectQuota(refused, 'EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS');
    expect(refused.headers.connection).toBe('close');
    expectQuota(
      (await openFrom(from, `${ts.url.replace('http', 'ws')}/ws/twilio`)) as never,
      'EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS',
    );
    // Another address is not affected; and once the idle ones are gone, this one is served again.
    expect((await requestFrom('127.0.0.31', `${ts.url}/healthz`)).status).toBe(200);
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await requestFrom(from, `${ts.url}/healthz`)).status).toBe(200);
  });
});
