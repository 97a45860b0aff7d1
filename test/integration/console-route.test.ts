import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

describe('web console files at /', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend);
  });
  afterAll(() => ts?.close());

  it('serves index.html at / as HTML with a self-only content security policy', async () => {
    const res = await ts.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).toContain('<title>earshot console</title>');
    // Nothing is fetched from elsewhere: every src/href is relative.
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g))
      expect(url).not.toMatch(/^(https?:)?\/\//);
  });

  it.each([
    ['/console.js', /^(text|application)\/javascript/],
    ['/pcm-player.worklet.js', /^(text|application)\/javascript/],
    ['/console.css', /^text\/css/],
    ['/favicon.svg', /^image\/svg\+xml/],
  ])('serves %s with its content type', async (path, type) => {
    const res = await ts.request(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(type);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('leaves the console out of the OpenAPI document', async () => {
    const { body } = await jsonRequest(ts, 'GET', '/docs/json');
    expect(Object.keys(body.paths).filter((p) => !p.startsWith('/v1') && !p.startsWith('/admin'))).toEqual([
      '/healthz',
      '/readyz',
      '/metrics',
    ]);
  });

  it('keeps the JSON 404 envelope for unknown paths, including under the console', async () => {
    for (const path of ['/nope', '/nope.js', '/../package.json', '/v1/nope']) {
      const r = await jsonRequest(ts, 'GET', path);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({
        status: 'error',
        data: null,
        errors: [{ code: expect.any(String), message: expect.any(String) }],
      });
    }
  });
});
