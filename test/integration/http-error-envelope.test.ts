import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/domain/error-code.js';
import { sqliteBackend } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Every HTTP error is the JSON envelope, including the ones answered before any route runs: Node's
 * HTTP parser (431, 400), the router (414, bad percent-encoding, 404 for every path or method it
 * does not know) and the plugins (static files, /docs). Written as an attacker would probe: raw TCP,
 * no HTTP client to tidy the request up.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `request` on a fresh TCP connection and reads the first response (headers + Content-Length). */
function exchange(port: number, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`no complete response: ${data.toString('latin1')}`)),
      5000,
    );
    const parse = (): RawResponse | null => {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? Number.NaN);
      if (!Number.isInteger(length) || data.length < end + 4 + length) return null;
      const body = data.subarray(end + 4, end + 4 + length).toString('utf8');
      return { status: Number(statusLine.split(' ')[1]), headers, body };
    };
    function finish(result: RawResponse | Error) {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    }
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const response = parse();
      if (response) finish(response);
    });
    socket.on('error', () => {});
    socket.on('close', () =>
      finish(parse() ?? new Error(`closed without a response: ${data.toString('latin1')}`)),
    );
    socket.write(request);
  });
}

function expectEnvelope(r: RawResponse, status: number, code: string, what: string) {
  expect(r.status, what).toBe(status);
  expect(r.headers['content-type'], what).toMatch(/^application\/json/);
  const body = JSON.parse(r.body);
  expect(Object.keys(body), what).toEqual(['status', 'data', 'errors']);
  expect(body.status, what).toBe('error');
  expect(body.data, what).toBeNull();
  expect(body.errors, what).toHaveLength(1);
  expect(Object.keys(body.errors[0]).sort(), what).toEqual(['code', 'message']);
  expect(Object.keys(ErrorCode), what).toContain(body.errors[0].code);
  expect(body.errors[0].code, what).toBe(code);
  expect(typeof body.errors[0].message, what).toBe('string');
  expect(body.errors[0].message.length, what).toBeGreaterThan(0);
  // No internals: no stack, no file path, no Fastify/Node error code.
  expect(r.body, what).not.toMatch(/FST_|HPE_|ERR_|\/work\/|node_modules|at .*\.js/);
}

describe('every HTTP error is the envelope, before routing too', () => {
  let ts: TestServer;
  let port: number;
  let apiKey: string;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, { EARSHOT_ADMIN_TOKEN: 'admin-token-'.padEnd(40, 'x') });
    port = Number(new URL(ts.url).port);
    apiKey = (await ts.createOrg()).apiKey;
  });
  afterAll(() => ts?.close());

  const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: earshot\r\n${extra}\r\n`;

  it('431 MESSAGE_TOO_BIG for 20 KB of headers, or a 20 KB URL', async () => {
    const big = await exchange(port, get('/v1/calls', `X-Filler: ${'a'.repeat(20_000)}\r\n`));
    expectEnvelope(big, 431, 'MESSAGE_TOO_BIG', '20 KB header');
    expect(big.headers.connection).toBe('close');
    const cookies = await exchange(port, get('/healthz', `Cookie: ${'k=v; '.repeat(4000)}\r\n`));
    expectEnvelope(cookies, 431, 'MESSAGE_TOO_BIG', '20 KB cookie');
    expectEnvelope(
      await exchange(port, get(`/v1/calls/${'c'.repeat(20_000)}`)),
      431,
      'MESSAGE_TOO_BIG',
      'URL',
    );
  });

  it('400 VALIDATION_ERROR for WebSocket upgrades that are no handshake (before anything is looked up)', async () => {
    const upgrade = (lines: string[]) =>
      exchange(
        ts.server.port,
        `${['GET /ws/twilio HTTP/1.1', 'Host: x', 'Connection: Upgrade', ...lines].join('\r\n')}\r\n\r\n`,
      );
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
    for (const [what, lines] of [
      ['no key', ['Upgrade: websocket', 'Sec-WebSocket-Version: 13']],
      ['a malformed key', ['Upgrade: websocket', 'Sec-WebSocket-Key: short', 'Sec-WebSocket-Version: 13']],
      ['version 12', ['Upgrade: websocket', key, 'Sec-WebSocket-Version: 12']],
      ['Upgrade: h2c', ['Upgrade: h2c', key, 'Sec-WebSocket-Version: 13']],
    ] as const) {
      const r = await upgrade([...lines]);
      expectEnvelope(r, 400, 'VALIDATION_ERROR', what);
      expect(JSON.parse(r.body).errors[0].message).toContain('WebSocket handshake');
    }
    const wrongVersion = await upgrade(['Upgrade: websocket', key, 'Sec-WebSocket-Version: 12']);
    expect(wrongVersion.headers['sec-websocket-version']).toBe('13, 8');
  });

  it('400 VALIDATION_ERROR for request lines and messages that are not HTTP', async () => {
    const garbage: [string, string | Buffer][] = [
      ['binary garbage', Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10])],
      ['words', 'hello there\r\n\r\n'],
      ['unknown method', 'FROB /v1/calls HTTP/1.1\r\nHost: earshot\r\n\r\n'],
      ['lower-case method', 'get /healthz HTTP/1.1\r\nHost: earshot\r\n\r\n'],
      ['target without a slash', 'GET healthz HTTP/1.1\r\nHost: earshot\r\n\r\n'],
      ['HTTP/9.9', 'GET /healthz HTTP/9.9\r\nHost: earshot\r\n\r\n'],
      ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
      ['space in a header name', get('/healthz', 'Bad Header: x\r\n')],
      ['header without a colon', get('/healthz', 'NoColonHere\r\n')],
      ['NUL in a header value', get('/healthz', 'X-A: a\u0000b\r\n')],
      ['bare LF line endings', 'GET /healthz HTTP/1.1\nHost: earshot\n\n\r\n'],
      [
        'Content-Length and Transfer-Encoding',
        `POST /v1/calls HTTP/1.1\r\nHost: earshot\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ],
      [
        'two Content-Lengths',
        `POST /v1/calls HTTP/1.1\r\nHost: earshot\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`,
      ],
      [
        'Content-Length not a number',
        'POST /v1/calls HTTP/1.1\r\nHost: earshot\r\nContent-Length: abc\r\n\r\n',
      ],
      [
        'bad chunk size',
        'POST /v1/calls HTTP/1.1\r\nHost: earshot\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
      ],
      ['HTTP/1.1 without Host', 'GET /v1/calls HTTP/1.1\r\n\r\n'],
      ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'],
    ];
    for (const [what, request] of garbage) {
      expectEnvelope(await exchange(port, request), 400, 'VALIDATION_ERROR', what);
    }
  });

  it('400 VALIDATION_ERROR for bad percent-encoding, 414 MESSAGE_TOO_BIG for a path segment over 1024 characters', async () => {
    for (const target of ['/v1/calls/%zz', '/v1/calls/%E0%A4%A', '/%', '/docs/%c0%af']) {
      expectEnvelope(await exchange(port, get(target)), 400, 'VALIDATION_ERROR', target);
    }
    expectEnvelope(
      await exchange(port, get(`/v1/calls/${'x'.repeat(5000)}`)),
      414,
      'MESSAGE_TOO_BIG',
      '5,000',
    );
  });

  it('417 VALIDATION_ERROR for an Expect other than 100-continue', async () => {
    const r = await exchange(port, get('/healthz', 'Expect: the-unexpected\r\n'));
    expectEnvelope(r, 417, 'VALIDATION_ERROR', 'Expect');
  });

  it('404 NOT_FOUND for unknown paths and for methods a path does not have (no 405)', async () => {
    const cases = [
      get('/nope'),
      get('/v1'),
      get('/v1/'),
      get('/admin/v1/nothing-here'),
      get('/ws'),
      get('/.env'),
      get('/..%2f..%2fpackage.json'),
      get('/%2e%2e/%2e%2e/package.json'),
      get('/index.html%00'),
      get('/docs/static/no-such-file.js'),
      get('/docs/static/..%2f..%2f..%2fpackage.json'),
      'PUT /v1/calls HTTP/1.1\r\nHost: earshot\r\nContent-Length: 0\r\n\r\n',
      'PATCH /healthz HTTP/1.1\r\nHost: earshot\r\nContent-Length: 0\r\n\r\n',
      'DELETE / HTTP/1.1\r\nHost: earshot\r\n\r\n',
      'POST /index.html HTTP/1.1\r\nHost: earshot\r\nContent-Length: 0\r\n\r\n',
      'POST /docs HTTP/1.1\r\nHost: earshot\r\nContent-Length: 0\r\n\r\n',
      'PROPFIND /v1/calls HTTP/1.1\r\nHost: earshot\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nHost: earshot\r\n\r\n',
      'TRACE / HTTP/1.1\r\nHost: earshot\r\n\r\n',
    ];
    for (const request of cases) {
      const r = await exchange(port, request);
      expectEnvelope(r, 404, 'NOT_FOUND', request.split('\r\n')[0]);
    }
  });

  it('errors from the static file and /docs plugins are envelopes, and nothing leaks from outside their roots', async () => {
    for (const target of [
      '/docs/static/%2e%2e/%2e%2e/package.json',
      '/%2e%2e/package.json',
      '/docs/static/..%5c..%5cpackage.json',
    ]) {
      const r = await exchange(port, get(target));
      expect(r.status, target).toBeGreaterThanOrEqual(400);
      expect(r.status, target).toBeLessThan(500);
      expectEnvelope(r, r.status, r.status === 404 ? 'NOT_FOUND' : 'VALIDATION_ERROR', target);
      expect(r.body).not.toContain('"dependencies"');
    }
    const range = await exchange(port, get('/index.html', 'Range: bytes=999999-9999999\r\n'));
    expect(range.status).toBeGreaterThanOrEqual(400);
    expectEnvelope(range, range.status, 'VALIDATION_ERROR', 'unsatisfiable range');
  });

  it('413 MESSAGE_TOO_BIG for a body over the limit; 401 before a bad body without a key', async () => {
    const body = JSON.stringify({ metadata: { filler: 'x'.repeat(70_000) } });
    const big = await exchange(
      port,
      `POST /v1/calls HTTP/1.1\r\nHost: earshot\r\nAuthorization: ${apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expectEnvelope(big, 413, 'MESSAGE_TOO_BIG', '70 KB body');
    const noKey = await exchange(
      port,
      'POST /admin/v1/orgs HTTP/1.1\r\nHost: earshot\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{{{',
    );
    expectEnvelope(noKey, 401, 'UNAUTHORIZED', 'admin without token');
  });

  it('still serves the next connection normally', async () => {
    const r = await exchange(port, get('/healthz'));
    expect(r.status).toBe(200);
  });
});
