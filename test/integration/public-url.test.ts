import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigOverrides } from '../../src/config/variables.js';
import { backends } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

interface UrlsBody {
  data: { url: string; call_id: string; ingest: { url: string; twilio_url: string } };
}

/** A POST through node:http, which (unlike fetch) lets the test choose the Host header. */
function rawPost(
  ts: TestServer,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: UrlsBody }> {
  const { port } = new URL(ts.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Creates an org and a call with `callId` (through fetch), then asks for URLs with the given headers;
 * returns the listen and ingest URLs. */
async function urlsFrom(ts: TestServer, callId: string, headers: Record<string, string> = {}) {
  const org = await ts.createOrg({ liveListen: true });
  const auth = { authorization: org.apiKey, ...headers };
  await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id: callId } });
  const listen = await rawPost(ts, `/v1/calls/${encodeURIComponent(callId)}/listen`, auth);
  const ingest = await rawPost(ts, '/v1/calls', auth);
  expect(listen.status, JSON.stringify(listen.body)).toBe(200);
  expect(ingest.status, JSON.stringify(ingest.body)).toBe(200);
  return {
    listen: listen.body.data.url as string,
    ingest: ingest.body.data.ingest.url as string,
    twilio: ingest.body.data.ingest.twilio_url as string,
    ingestCallId: ingest.body.data.call_id as string,
  };
}

describe.each(backends)('ws(s):// URLs on $name', (backend) => {
  const servers: TestServer[] = [];
  const start = async (env: ConfigOverrides = {}) => {
    const ts = await startTestServer(backend, env);
    servers.push(ts);
    return ts;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('with EARSHOT_PUBLIC_URL', () => {
    it('https://listen.example.com gives wss://listen.example.com/ws/… whatever the Host header says', async () => {
      const ts = await start({ EARSHOT_PUBLIC_URL: 'https://listen.example.com' });
      const urls = await urlsFrom(ts, 'CA-pub-1', { host: 'evil.example.org', 'x-forwarded-proto': 'http' });
      expect(urls.listen).toMatch(
        /^wss:\/\/listen\.example\.com\/ws\/listen\/CA-pub-1\?token=[A-Za-z0-9_-]+$/,
      );
      expect(urls.ingest).toMatch(
        new RegExp(`^wss://listen\\.example\\.com/ws/ingest/${urls.ingestCallId}\\?token=[A-Za-z0-9_-]+$`),
      );
      expect(urls.twilio).toBe('wss://listen.example.com/ws/twilio');
    });

    it('keeps a path prefix: https://x.example.com/earshot gives wss://x.example.com/earshot/ws/…', async () => {
      const ts = await start({ EARSHOT_PUBLIC_URL: 'https://x.example.com/earshot/' });
      const urls = await urlsFrom(ts, 'CA-pub-2');
      expect(urls.listen).toMatch(
        /^wss:\/\/x\.example\.com\/earshot\/ws\/listen\/CA-pub-2\?token=[A-Za-z0-9_-]+$/,
      );
      expect(urls.ingest.startsWith('wss://x.example.com/earshot/ws/ingest/')).toBe(true);
      expect(urls.twilio).toBe('wss://x.example.com/earshot/ws/twilio');
    });

    it('http:// gives ws://, with the port kept', async () => {
      const ts = await start({ EARSHOT_PUBLIC_URL: 'http://gateway.internal:8443' });
      const urls = await urlsFrom(ts, 'CA-pub-3');
      expect(urls.listen).toMatch(/^ws:\/\/gateway\.internal:8443\/ws\/listen\/CA-pub-3\?token=/);
      expect(urls.twilio).toBe('ws://gateway.internal:8443/ws/twilio');
    });
  });

  describe('without EARSHOT_PUBLIC_URL', () => {
    let plain: TestServer;
    let trusting: TestServer;
    beforeAll(async () => {
      plain = await start();
      trusting = await start({ EARSHOT_TRUST_PROXY: 'true' });
    });

    it("follows the request's Host header", async () => {
      const urls = await urlsFrom(plain, 'CA-host-1', { host: 'calls.example.net:9000' });
      expect(urls.listen).toMatch(/^ws:\/\/calls\.example\.net:9000\/ws\/listen\/CA-host-1\?token=/);
      expect(urls.ingest.startsWith('ws://calls.example.net:9000/ws/ingest/')).toBe(true);
      expect(urls.twilio).toBe('ws://calls.example.net:9000/ws/twilio');
    });

    it('ignores X-Forwarded-Proto and X-Forwarded-Host when the proxy is not trusted', async () => {
      const urls = await urlsFrom(plain, 'CA-xfp-1', {
        host: 'calls.example.net',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'spoofed.example.org',
      });
      expect(urls.listen).toMatch(/^ws:\/\/calls\.example\.net\/ws\/listen\/CA-xfp-1\?token=/);
      expect(urls.twilio).toBe('ws://calls.example.net/ws/twilio');
    });

    it('gives wss:// for X-Forwarded-Proto: https when EARSHOT_TRUST_PROXY is true', async () => {
      const urls = await urlsFrom(trusting, 'CA-xfp-2', {
        host: 'calls.example.net',
        'x-forwarded-proto': 'https',
      });
      expect(urls.listen).toMatch(/^wss:\/\/calls\.example\.net\/ws\/listen\/CA-xfp-2\?token=/);
      expect(urls.ingest.startsWith('wss://calls.example.net/ws/ingest/')).toBe(true);
      expect(urls.twilio).toBe('wss://calls.example.net/ws/twilio');
      const http = await urlsFrom(trusting, 'CA-xfp-3', { host: 'calls.example.net' });
      expect(http.listen.startsWith('ws://calls.example.net/')).toBe(true);
    });

    it('follows fetch’s own Host (127.0.0.1:<port>) by default', async () => {
      const org = await plain.createOrg({ liveListen: true });
      await jsonRequest(plain, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id: 'CA-default' } });
      const r = await jsonRequest(plain, 'POST', '/v1/calls/CA-default/listen', { apiKey: org.apiKey });
      expect(
        r.body.data.url.startsWith(`ws://127.0.0.1:${new URL(plain.url).port}/ws/listen/CA-default?token=`),
      ).toBe(true);
    });
  });

  it('keeps call ids with ":" and "." URL-safe in the returned URLs', async () => {
    const ts = await start({ EARSHOT_PUBLIC_URL: 'https://listen.example.com' });
    const org = await ts.createOrg({ liveListen: true });
    const callId = 'sip:agent.42:call-7_x';
    const created = await jsonRequest(ts, 'POST', '/v1/calls', {
      apiKey: org.apiKey,
      body: { call_id: callId },
    });
    expect(created.status).toBe(200);
    const listen = await jsonRequest(ts, 'POST', `/v1/calls/${encodeURIComponent(callId)}/listen`, {
      apiKey: org.apiKey,
    });
    expect(listen.status).toBe(200);
    for (const raw of [listen.body.data.url as string, created.body.data.ingest.url as string]) {
      const url = new URL(raw);
      // The URL round-trips unchanged and its last path segment decodes to the id.
      expect(url.toString()).toBe(raw);
      const segments = url.pathname.split('/');
      expect(segments).toHaveLength(4);
      expect(decodeURIComponent(segments[3])).toBe(callId);
      expect(url.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(raw).not.toMatch(/[\s"<>\\^`{|}]/);
    }
    // Unencoded in the request path, the id still resolves.
    const direct = await jsonRequest(ts, 'POST', `/v1/calls/${callId}/listen`, { apiKey: org.apiKey });
    expect(direct.status).toBe(200);
  });
});
