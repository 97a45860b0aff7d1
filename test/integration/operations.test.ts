import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, sqliteBackend } from '../helpers/databases.js';
import { requestFrom } from '../helpers/from-address.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

/** The value of an unlabelled Prometheus sample, or undefined when absent. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined
    ? undefined
    : Number(
        line
          .slice(name.length + 1)
          .trim()
          .split(' ')[0],
      );
}

describe.each(backends)('operations endpoints on $name', (backend) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer(backend);
  });
  afterAll(() => ts?.close());

  it('/healthz answers 200 without credentials', async () => {
    const r = await jsonRequest(ts, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'success', data: { status: 'ok' }, errors: null });
  });

  it('/readyz answers 200 with the database and the bus ok', async () => {
    const r = await jsonRequest(ts, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'success', data: { database: 'ok', bus: 'ok' }, errors: null });
  });

  it('/metrics is Prometheus text with every documented metric', async () => {
    const response = await ts.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    for (const name of [
      'earshot_active_calls',
      'earshot_listeners',
      'earshot_participants',
      'earshot_frames_in_total',
      'earshot_frames_out_total',
      'earshot_frames_dropped_total',
      'earshot_mix_latency_seconds',
      'earshot_ingest_errors_total',
      'earshot_write_coalescing',
      'earshot_direct_writes',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter|histogram)$`, 'm'));
    }
    expect(text).toMatch(/^# TYPE earshot_mix_latency_seconds histogram$/m);
    expect(text).toMatch(/^earshot_mix_latency_seconds_bucket\{le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^earshot_nodejs_eventloop_lag(_p99)?_seconds \d/m);
    expect(sample(text, 'earshot_listeners')).toBe(0);
    expect(sample(text, 'earshot_participants')).toBe(0);
    expect(sample(text, 'earshot_frames_in_total')).toBe(0);
  });

  it('earshot_active_calls counts the active calls created through the API', async () => {
    const metric = async () => sample(await (await ts.request('/metrics')).text(), 'earshot_active_calls');
    const before = await metric();
    expect(before).toBe(0);
    const org = await ts.createOrg();
    for (const id of ['m-1', 'm-2', 'm-3']) {
      await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id: id } });
    }
    // An idempotent repeat is not a new call.
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id: 'm-1' } });
    expect(await metric()).toBe(3);
    await jsonRequest(ts, 'POST', '/v1/calls/m-2/stop', { apiKey: org.apiKey });
    expect(await metric()).toBe(2);
  });

  it('/docs serves the rendered HTML reference', async () => {
    const response = await ts.request('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toMatch(/<html/i);
    expect(html).toMatch(/swagger/i);
  });

  it('/docs/json is an OpenAPI 3 document listing every /v1 path and method of the contract', async () => {
    const r = await jsonRequest(ts, 'GET', '/docs/json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    const paths = r.body.paths as Record<string, Record<string, unknown>>;
    const expected: Record<string, string[]> = {
      '/v1/calls/{call_id}/listen': ['post', 'delete'],
      '/v1/calls': ['post', 'get'],
      '/v1/calls/{call_id}': ['get'],
      '/v1/calls/{call_id}/stop': ['post'],
      '/v1/org/preferences': ['get', 'patch'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(paths[path], path).toBeDefined();
      for (const method of methods) expect(paths[path][method], `${method} ${path}`).toBeDefined();
    }
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(paths[path], path).toBeDefined();
    const listen = paths['/v1/calls/{call_id}/listen'].post as { responses: Record<string, unknown> };
    expect(Object.keys(listen.responses)).toEqual(
      expect.arrayContaining(['200', '401', '403', '404', '409']),
    );
  });
});

describe.each(backends)('/readyz with the database gone on $name', (backend) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer(backend);
  });
  afterAll(async () => {
    // The store is already closed; close the rest without closing it twice, then drop the database.
    await ts.server.close().catch(() => {});
    await ts.db.drop();
  });

  it('answers 503 SERVICE_UNAVAILABLE once the store is closed underneath the server, while /healthz stays 200', async () => {
    expect((await jsonRequest(ts, 'GET', '/readyz')).status).toBe(200);
    await ts.server.deps.store.close();
    const r = await jsonRequest(ts, 'GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.body).toEqual({
      status: 'error',
      data: null,
      errors: [{ code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('database') }],
    });
    expect(r.body.errors[0].message).not.toMatch(/bus/);
    expect((await jsonRequest(ts, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('protecting /metrics', () => {
  const TOKEN = 'metrics-token-for-the-test';

  describe('EARSHOT_METRICS_TOKEN', () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer(sqliteBackend, {
        EARSHOT_METRICS_TOKEN: TOKEN,
        EARSHOT_AUTH_FAILURES_PER_MIN: '3',
      });
    });
    afterAll(() => ts?.close());

    it('answers 401 with the envelope without the token or with a wrong one, and the text with it', async () => {
      for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token' }] as Record<
        string,
        string
      >[]) {
        const r = await requestFrom('127.0.0.40', `${ts.url}/metrics`, { headers });
        expect(r.status).toBe(401);
        expect(r.body.errors[0].code).toBe('UNAUTHORIZED');
      }
      const ok = await ts.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^earshot_listeners /m);
      // Failures count per address like any credential's: the third, then 429 even with the token.
      await requestFrom('127.0.0.40', `${ts.url}/metrics`);
      const limited = await requestFrom('127.0.0.40', `${ts.url}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(limited.status).toBe(429);
      expect(limited.body.errors[0].code).toBe('RATE_LIMITED');
    });
  });

  describe('EARSHOT_METRICS_LISTEN', () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer(sqliteBackend, {
        EARSHOT_METRICS_LISTEN: '127.0.0.1:0',
        EARSHOT_METRICS_TOKEN: TOKEN,
      });
    });
    afterAll(() => ts?.close());

    it('serves /metrics on its own address only (with the token), and the main port answers 404', async () => {
      const url = ts.server.metricsUrl;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await ts.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
        404,
      );
      const ok = await fetch(url as string, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^earshot_listeners /m);
      const refused = await fetch(url as string);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { errors: { code: string }[] }).errors[0].code).toBe('UNAUTHORIZED');
      const other = await fetch((url as string).replace('/metrics', '/v1/calls'));
      expect(other.status).toBe(404);
      expect(((await other.json()) as { status: string }).status).toBe('error');
      expect(ts.logs.join('')).toContain('metrics served on their own address');
    });
  });
});
