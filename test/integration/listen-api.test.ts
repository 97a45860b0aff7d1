import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

const errorOf = (code: string, message: string) =>
  JSON.stringify({ status: 'error', data: null, errors: [{ code, message }] });

describe.each(backends)('POST /v1/calls/{call_id}/listen on $name', (backend) => {
  let ts: TestServer;
  let enabled: { apiKey: string; orgId: string };
  let disabled: { apiKey: string };
  let other: { apiKey: string };

  beforeAll(async () => {
    ts = await startTestServer(backend);
    enabled = await ts.createOrg({ liveListen: true });
    disabled = await ts.createOrg({ liveListen: false });
    other = await ts.createOrg({ liveListen: true });
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: enabled.apiKey, body: { call_id: 'CA-live' } });
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: other.apiKey, body: { call_id: 'CA-other' } });
  });
  afterAll(() => ts?.close());

  it("answers the seed's own curl request with exactly the Bland envelope and a ws:// URL", async () => {
    const port = new URL(ts.url).port;
    // curl runs as its own process (not fetch), exactly as the seed's request is written.
    const { stdout: out } = await promisify(execFile)('curl', [
      '-s',
      '--max-time',
      '10',
      '-X',
      'POST',
      `http://127.0.0.1:${port}/v1/calls/CA-live/listen`,
      '-H',
      `Authorization: ${enabled.apiKey}`,
    ]);
    const match = out.match(
      /^\{"status":"success","data":\{"url":"(ws:\/\/127\.0\.0\.1:\d+\/ws\/listen\/CA-live\?token=([A-Za-z0-9_-]+))"\},"errors":null\}$/,
    );
    expect(match, out).not.toBeNull();
    // At least 128 bits of randomness in the token.
    expect(Buffer.from(match![2], 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('accepts "Bearer <key>" and an empty JSON body, and issues a different token each time', async () => {
    const a = await jsonRequest(ts, 'POST', '/v1/calls/CA-live/listen', {
      apiKey: `Bearer ${enabled.apiKey}`,
      headers: { 'content-type': 'application/json' },
    });
    const b = await jsonRequest(ts, 'POST', '/v1/calls/CA-live/listen', { apiKey: enabled.apiKey });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.data.url).not.toBe(b.body.data.url);
  });

  it('stores the token only as a hash, scoped to the call, expiring after the TTL', async () => {
    const before = Date.now();
    const { body } = await jsonRequest(ts, 'POST', '/v1/calls/CA-live/listen', { apiKey: enabled.apiKey });
    const token = new URL(body.data.url).searchParams.get('token')!;
    const grant = await ts.server.deps.store.resolveListenToken(token);
    const call = await ts.server.deps.store.getCall(enabled.orgId, 'CA-live');
    expect(grant?.callPk).toBe(call?.pk);
    const ttlMs = Date.parse(grant!.expiresAt) - before;
    expect(ttlMs).toBeGreaterThanOrEqual(3600_000 - 1000);
    expect(ttlMs).toBeLessThanOrEqual(3600_000 + 5000);
  });

  it('401 UNAUTHORIZED without a key, with an unknown key, and with a revoked key', async () => {
    const revoked = await ts.createOrg();
    await ts.server.deps.store.revokeApiKey(revoked.prefix);
    for (const apiKey of [undefined, 'esk_unknown', '', revoked.apiKey]) {
      const r = await jsonRequest(ts, 'POST', '/v1/calls/CA-live/listen', { apiKey });
      expect(r.status).toBe(401);
      expect(r.body.errors[0].code).toBe('UNAUTHORIZED');
      expect(r.body.status).toBe('error');
      expect(r.body.data).toBeNull();
    }
  });

  it('400 MISSING_CALL_ID for an empty or blank call id, checked after auth', async () => {
    for (const path of ['/v1/calls//listen', '/v1/calls/%20/listen', '/v1/calls/%20%09/listen']) {
      const r = await jsonRequest(ts, 'POST', path, { apiKey: enabled.apiKey });
      expect(r.status, path).toBe(400);
      expect(r.body.errors[0].code).toBe('MISSING_CALL_ID');
      // Preferences come after the call id.
      const d = await jsonRequest(ts, 'POST', path, { apiKey: disabled.apiKey });
      expect(d.body.errors[0].code).toBe('MISSING_CALL_ID');
      const u = await jsonRequest(ts, 'POST', path);
      expect(u.body.errors[0].code).toBe('UNAUTHORIZED');
    }
  });

  it('403 INVALID_ORG_PREFERENCES when live listen is off, before looking the call up', async () => {
    for (const id of ['CA-live', 'does-not-exist']) {
      const r = await jsonRequest(ts, 'POST', `/v1/calls/${id}/listen`, { apiKey: disabled.apiKey });
      expect(r.status).toBe(403);
      expect(r.body.errors[0].code).toBe('INVALID_ORG_PREFERENCES');
    }
  });

  it("404 CALL_NOT_FOUND for a missing call and another org's call, byte for byte the same", async () => {
    const missing = await jsonRequest(ts, 'POST', '/v1/calls/nope/listen', { apiKey: enabled.apiKey });
    const foreign = await jsonRequest(ts, 'POST', '/v1/calls/CA-other/listen', { apiKey: enabled.apiKey });
    const invalid = await jsonRequest(ts, 'POST', `/v1/calls/${'x'.repeat(300)}/listen`, {
      apiKey: enabled.apiKey,
    });
    expect(missing.status).toBe(404);
    expect(missing.text).toBe(
      errorOf('CALL_NOT_FOUND', 'Call does not exist or does not belong to organization'),
    );
    expect(foreign.status).toBe(404);
    expect(foreign.text).toBe(missing.text);
    expect(invalid.text).toBe(missing.text);
    const headerNames = (h: Headers) =>
      [...h.keys()].filter((k) => !['date', 'x-ratelimit-remaining'].includes(k));
    expect(headerNames(foreign.headers)).toEqual(headerNames(missing.headers));
  });

  it('409 INVALID_CALL_STATUS once the call is completed', async () => {
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: enabled.apiKey, body: { call_id: 'CA-done' } });
    await jsonRequest(ts, 'POST', '/v1/calls/CA-done/stop', { apiKey: enabled.apiKey });
    const r = await jsonRequest(ts, 'POST', '/v1/calls/CA-done/listen', { apiKey: enabled.apiKey });
    expect(r.status).toBe(409);
    expect(r.text).toBe(errorOf('INVALID_CALL_STATUS', 'Call is not active'));
  });

  it('DELETE revokes every listen URL of the call', async () => {
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: enabled.apiKey, body: { call_id: 'CA-rev' } });
    const urls = await Promise.all(
      [1, 2].map(
        async () =>
          (await jsonRequest(ts, 'POST', '/v1/calls/CA-rev/listen', { apiKey: enabled.apiKey })).body.data
            .url,
      ),
    );
    const r = await jsonRequest(ts, 'DELETE', '/v1/calls/CA-rev/listen', { apiKey: enabled.apiKey });
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ call_id: 'CA-rev', revoked: 2 });
    for (const url of urls) {
      const grant = await ts.server.deps.store.resolveListenToken(new URL(url).searchParams.get('token')!);
      expect(grant?.revoked).toBe(true);
    }
    const foreign = await jsonRequest(ts, 'DELETE', '/v1/calls/CA-other/listen', { apiKey: enabled.apiKey });
    expect(foreign.body.errors[0].code).toBe('CALL_NOT_FOUND');
  });

  it('500 INTERNAL_SERVER_ERROR reveals nothing of the failure', async () => {
    const broken = await startTestServer(backend);
    try {
      const org = await broken.createOrg();
      // Break the database underneath the running server: the next query fails unexpectedly.
      const { store } = broken.server.deps;
      const original = store.findApiKey.bind(store);
      store.findApiKey = async () => {
        throw new TypeError('secret internal detail: relation "api_keys" exploded at 0xdeadbeef');
      };
      const r = await jsonRequest(broken, 'POST', '/v1/calls/x/listen', { apiKey: org.apiKey });
      store.findApiKey = original;
      expect(r.status).toBe(500);
      expect(r.text).toBe(errorOf('INTERNAL_SERVER_ERROR', 'Internal server error'));
      expect(broken.logs.join('')).toContain('exploded');
    } finally {
      await broken.close();
    }
  });
});
