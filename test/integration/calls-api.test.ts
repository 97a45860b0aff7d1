import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

const errorOf = (code: string, message: string) =>
  JSON.stringify({ status: 'error', data: null, errors: [{ code, message }] });

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const twilioSid = () =>
  `CA${Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('')}`;

/** Sends a raw body with the given content type (or none). */
async function rawPost(ts: TestServer, path: string, apiKey: string, body?: string, contentType?: string) {
  const headers: Record<string, string> = {};
  if (contentType !== undefined) headers['content-type'] = contentType;
  const response = await ts.request(path, { method: 'POST', apiKey, headers, body });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) };
}

interface ErrorBody {
  status: string;
  data: unknown;
  errors: { code: string; message: unknown }[];
}

function expectValidationError(r: { status: number; body: ErrorBody }, what: string) {
  expect(r.status, what).toBe(400);
  expect(r.body.status, what).toBe('error');
  expect(r.body.data, what).toBeNull();
  expect(r.body.errors, what).toHaveLength(1);
  expect(r.body.errors[0].code, what).toBe('VALIDATION_ERROR');
  expect(typeof r.body.errors[0].message, what).toBe('string');
}

async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(backends)('/v1/calls and /v1/org on $name', (backend) => {
  let ts: TestServer;
  let org: { apiKey: string; orgId: string };
  let other: { apiKey: string; orgId: string };

  beforeAll(async () => {
    ts = await startTestServer(backend);
    org = await ts.createOrg({ liveListen: true });
    other = await ts.createOrg({ liveListen: true });
  });
  afterAll(() => ts?.close());

  describe('POST /v1/calls', () => {
    it('creates a call with no body at all (no content-type) and returns the documented shape', async () => {
      const r = await rawPost(ts, '/v1/calls', org.apiKey);
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('success');
      expect(r.body.errors).toBeNull();
      const data = r.body.data;
      expect(Object.keys(data).sort()).toEqual(['call_id', 'created_at', 'ingest', 'status']);
      expect(data.status).toBe('active');
      expect(data.call_id).toMatch(/^[A-Za-z0-9_.:-]{1,128}$/);
      expect(data.created_at).toMatch(ISO_UTC);
      expect(Math.abs(Date.parse(data.created_at) - Date.now())).toBeLessThan(60_000);
      expect(Object.keys(data.ingest).sort()).toEqual(['token', 'twilio_url', 'url']);
      const port = new URL(ts.url).port;
      expect(data.ingest.url).toBe(
        `ws://127.0.0.1:${port}/ws/ingest/${encodeURIComponent(data.call_id)}?token=${data.ingest.token}`,
      );
      expect(data.ingest.twilio_url).toBe(`ws://127.0.0.1:${port}/ws/twilio`);
      expect(Buffer.from(data.ingest.token, 'base64url').length).toBeGreaterThanOrEqual(16);
    });

    it('creates a call from an empty JSON object and from an empty JSON body', async () => {
      const a = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: {} });
      expect(a.status).toBe(200);
      expect(a.body.data.status).toBe('active');
      const b = await rawPost(ts, '/v1/calls', org.apiKey, '', 'application/json');
      expect(b.status).toBe(200);
      expect(b.body.data.status).toBe('active');
    });

    it('stores every field and shows them on GET /v1/calls/{id} with the full shape', async () => {
      const metadata = { campaign: 'spring', nested: { n: 1, list: [1, 'two', null] }, flag: true };
      const created = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { call_id: 'full-fields.1:a_b-c', from: '+15551230001', to: '+15551230002', metadata },
      });
      expect(created.status).toBe(200);
      expect(created.body.data.call_id).toBe('full-fields.1:a_b-c');
      const got = await jsonRequest(ts, 'GET', '/v1/calls/full-fields.1:a_b-c', { apiKey: org.apiKey });
      expect(got.status).toBe(200);
      expect(got.body).toEqual({
        status: 'success',
        errors: null,
        data: {
          call_id: 'full-fields.1:a_b-c',
          status: 'active',
          created_at: created.body.data.created_at,
          ended_at: null,
          from: '+15551230001',
          to: '+15551230002',
          metadata,
          participants: [],
          listeners: 0,
        },
      });
    });

    it('shows absent optional fields as null on GET', async () => {
      const created = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: {} });
      const got = await jsonRequest(ts, 'GET', `/v1/calls/${created.body.data.call_id}`, {
        apiKey: org.apiKey,
      });
      expect(got.body.data).toMatchObject({ from: null, to: null, metadata: null, ended_at: null });
    });

    it('generates a unique call id for every call created without one', async () => {
      const ids = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: {} });
          return r.body.data.call_id as string;
        }),
      );
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('is idempotent for a caller-chosen Twilio CallSid: the second create returns the same call', async () => {
      const sid = twilioSid();
      const first = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { call_id: sid, from: '+1555' },
      });
      await new Promise((r) => setTimeout(r, 5));
      const second = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { call_id: sid, from: '+1555' },
      });
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.body.data.call_id).toBe(sid);
      expect(second.body.data.created_at).toBe(first.body.data.created_at);
      expect(second.body.data.status).toBe('active');
      const list = await jsonRequest(ts, 'GET', '/v1/calls?limit=100', { apiKey: org.apiKey });
      expect(list.body.data.calls.filter((c: { call_id: string }) => c.call_id === sid)).toHaveLength(1);
    });

    it('creates a separate call when another organization uses the same id', async () => {
      const sid = twilioSid();
      await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { call_id: sid, from: 'mine' },
      });
      const theirs = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: other.apiKey,
        body: { call_id: sid, from: 'theirs' },
      });
      expect(theirs.status).toBe(200);
      const mine = await jsonRequest(ts, 'GET', `/v1/calls/${sid}`, { apiKey: org.apiKey });
      const seen = await jsonRequest(ts, 'GET', `/v1/calls/${sid}`, { apiKey: other.apiKey });
      expect(mine.body.data.from).toBe('mine');
      expect(seen.body.data.from).toBe('theirs');
      // Stopping one leaves the other active.
      await jsonRequest(ts, 'POST', `/v1/calls/${sid}/stop`, { apiKey: org.apiKey });
      const after = await jsonRequest(ts, 'GET', `/v1/calls/${sid}`, { apiKey: other.apiKey });
      expect(after.body.data.status).toBe('active');
    });

    it('answers VALIDATION_ERROR for a bad call_id: spaces, 129 characters, empty string, not a string', async () => {
      for (const call_id of ['has space', 'x'.repeat(129), '', 'slash/id', 'é', 42]) {
        const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id } });
        expectValidationError(r, JSON.stringify(call_id));
      }
      const longest = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { call_id: 'y'.repeat(128) },
      });
      expect(longest.status).toBe(200);
    });

    it("refuses call_id '.' and '..' (a URL cannot address them), naming call_id; other dotted ids work end to end", async () => {
      for (const call_id of ['.', '..']) {
        const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id } });
        expectValidationError(r, call_id);
        expect(r.body.errors[0].message).toMatch(/call_id/);
      }
      for (const call_id of ['...', '.a', 'a..']) {
        const created = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id } });
        expect(created.status, call_id).toBe(200);
        const got = await jsonRequest(ts, 'GET', `/v1/calls/${encodeURIComponent(call_id)}`, {
          apiKey: org.apiKey,
        });
        expect(got.status, call_id).toBe(200);
        expect(got.body.data.call_id).toBe(call_id);
      }
    });

    it('answers VALIDATION_ERROR for from/to longer than 64 characters or not strings', async () => {
      for (const body of [{ from: '1'.repeat(65) }, { to: '2'.repeat(65) }, { from: 12345 }, { to: false }]) {
        const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body });
        expectValidationError(r, JSON.stringify(body));
      }
      const ok = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { from: '1'.repeat(64), to: null },
      });
      expect(ok.status).toBe(200);
    });

    it('answers VALIDATION_ERROR when metadata is not an object', async () => {
      for (const metadata of ['text', 42, [1, 2], true]) {
        const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { metadata } });
        expectValidationError(r, JSON.stringify(metadata));
      }
    });

    it('refuses a body nested more than 32 levels deep (metadata: 31 below the body) with VALIDATION_ERROR, never 500', async () => {
      const metadata = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;
      const ok = await rawPost(
        ts,
        '/v1/calls',
        org.apiKey,
        `{"metadata":${metadata(31)}}`,
        'application/json',
      );
      expect(ok.status).toBe(200);
      const got = await jsonRequest(ts, 'GET', `/v1/calls/${ok.body.data.call_id}`, { apiKey: org.apiKey });
      expect(JSON.stringify(got.body.data.metadata)).toBe(metadata(31));
      // 32 levels of metadata; ~5,000 (used to overflow the stack: 500); arrays; a flood of brackets.
      for (const raw of [
        `{"metadata":${metadata(32)}}`,
        `{"metadata":${metadata(5000)}}`,
        `{"metadata":{"a":${'['.repeat(40)}${']'.repeat(40)}}}`,
        '['.repeat(60_000),
      ]) {
        const r = await rawPost(ts, '/v1/calls', org.apiKey, raw, 'application/json');
        expectValidationError(r, raw.slice(0, 40));
        expect(r.body.errors[0].message).toMatch(/more than 32 levels deep/);
      }
    });

    it('answers VALIDATION_ERROR for an unknown field, naming it, and for a body that is not an object', async () => {
      const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { callid: 'typo' } });
      expectValidationError(r, 'unknown field');
      expect(r.body.errors[0].message).toMatch(/callid|additional/i);
      for (const body of [[], 'text', 7]) {
        expectValidationError(
          await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body }),
          `${body}`,
        );
      }
    });

    it('answers VALIDATION_ERROR for malformed JSON', async () => {
      for (const raw of ['{"call_id":', '{call_id: "x"}', '{"a":1}}']) {
        const r = await rawPost(ts, '/v1/calls', org.apiKey, raw, 'application/json');
        expectValidationError(r, raw);
      }
    });

    it('answers VALIDATION_ERROR for a body that is not JSON', async () => {
      for (const [contentType, raw] of [
        ['text/plain', 'call_id=abc'],
        ['application/x-www-form-urlencoded', 'call_id=abc'],
        ['application/xml', '<call/>'],
      ]) {
        const r = await rawPost(ts, '/v1/calls', org.apiKey, raw, contentType);
        expectValidationError(r, contentType);
      }
    });

    it('validates nothing before authenticating: a bad body without a key is 401', async () => {
      const r = await rawPost(ts, '/v1/calls', 'esk_nope', '{"call_id":', 'application/json');
      expect(r.status).toBe(401);
      expect(r.body.errors[0].code).toBe('UNAUTHORIZED');
    });
  });

  describe('GET /v1/calls/{call_id}', () => {
    it("answers another organization's call exactly like a missing one", async () => {
      await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: other.apiKey, body: { call_id: 'theirs-only' } });
      const foreign = await jsonRequest(ts, 'GET', '/v1/calls/theirs-only', { apiKey: org.apiKey });
      const missing = await jsonRequest(ts, 'GET', '/v1/calls/never-existed', { apiKey: org.apiKey });
      expect(missing.status).toBe(404);
      expect(missing.text).toBe(
        errorOf('CALL_NOT_FOUND', 'Call does not exist or does not belong to organization'),
      );
      expect(foreign.status).toBe(404);
      expect(foreign.text).toBe(missing.text);
    });

    it('answers 401 UNAUTHORIZED without a key', async () => {
      const r = await jsonRequest(ts, 'GET', '/v1/calls/anything');
      expect(r.status).toBe(401);
      expect(r.body.errors[0].code).toBe('UNAUTHORIZED');
    });
  });

  describe('GET /v1/calls', () => {
    let lister: { apiKey: string };
    const created: string[] = [];

    beforeAll(async () => {
      lister = await ts.createOrg();
      // Sequential creates: the order of creation is the order the list must reverse.
      for (let i = 0; i < 7; i++) {
        const r = await jsonRequest(ts, 'POST', '/v1/calls', {
          apiKey: lister.apiKey,
          body: { call_id: `list-${i}` },
        });
        created.push(r.body.data.call_id);
      }
      for (const id of ['list-1', 'list-4']) {
        await jsonRequest(ts, 'POST', `/v1/calls/${id}/stop`, { apiKey: lister.apiKey });
      }
    });

    it("lists only the organization's calls, newest first, with next_cursor null on the last page", async () => {
      const r = await jsonRequest(ts, 'GET', '/v1/calls', { apiKey: lister.apiKey });
      expect(r.status).toBe(200);
      expect(Object.keys(r.body.data).sort()).toEqual(['calls', 'next_cursor']);
      expect(r.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual([...created].reverse());
      expect(r.body.data.next_cursor).toBeNull();
      expect(Object.keys(r.body.data.calls[0]).sort()).toEqual(
        [
          'call_id',
          'created_at',
          'ended_at',
          'from',
          'listeners',
          'metadata',
          'participants',
          'status',
          'to',
        ].sort(),
      );
    });

    it('honours limit', async () => {
      const r = await jsonRequest(ts, 'GET', '/v1/calls?limit=2', { apiKey: lister.apiKey });
      expect(r.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual(['list-6', 'list-5']);
      expect(typeof r.body.data.next_cursor).toBe('string');
    });

    it('pages through every call with the cursor, with no duplicates and no gaps', async () => {
      for (const limit of [1, 2, 3, 7]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const r = await jsonRequest(ts, 'GET', `/v1/calls?${query}`, { apiKey: lister.apiKey });
          expect(r.status).toBe(200);
          expect(r.body.data.calls.length).toBeLessThanOrEqual(limit);
          seen.push(...r.body.data.calls.map((c: { call_id: string }) => c.call_id));
          cursor = r.body.data.next_cursor;
          pages++;
          expect(pages).toBeLessThanOrEqual(created.length + 1);
        } while (cursor !== null);
        expect(seen, `limit=${limit}`).toEqual([...created].reverse());
        expect(pages).toBe(Math.ceil(created.length / limit));
      }
    });

    it('filters by status=active and status=completed, also across pages', async () => {
      const active = await jsonRequest(ts, 'GET', '/v1/calls?status=active', { apiKey: lister.apiKey });
      expect(active.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual([
        'list-6',
        'list-5',
        'list-3',
        'list-2',
        'list-0',
      ]);
      const completed = await jsonRequest(ts, 'GET', '/v1/calls?status=completed&limit=1', {
        apiKey: lister.apiKey,
      });
      expect(completed.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual(['list-4']);
      expect(completed.body.data.calls[0].status).toBe('completed');
      expect(completed.body.data.calls[0].ended_at).toMatch(ISO_UTC);
      const next = await jsonRequest(
        ts,
        'GET',
        `/v1/calls?status=completed&limit=1&cursor=${encodeURIComponent(completed.body.data.next_cursor)}`,
        { apiKey: lister.apiKey },
      );
      expect(next.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual(['list-1']);
      expect(next.body.data.next_cursor).toBeNull();
    });

    it('answers VALIDATION_ERROR for an invalid limit, status or cursor, or an unknown parameter', async () => {
      for (const query of [
        'limit=0',
        'limit=101',
        'limit=abc',
        'limit=2.5',
        'limit=-1',
        'status=ended',
        'status=ACTIVE',
        'cursor=garbage',
        'cursor=%7B%7D',
        `cursor=${Buffer.from('["a"]').toString('base64url')}`,
        'sort=asc',
      ]) {
        const r = await jsonRequest(ts, 'GET', `/v1/calls?${query}`, { apiKey: lister.apiKey });
        expectValidationError(r, query);
      }
    });

    it('lists with a trailing slash too', async () => {
      const r = await jsonRequest(ts, 'GET', '/v1/calls/?limit=1', { apiKey: lister.apiKey });
      expect(r.status).toBe(200);
      expect(r.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual(['list-6']);
    });
  });

  describe('POST /v1/calls/{call_id}/stop', () => {
    it('completes the call and is idempotent (same ended_at on a second stop)', async () => {
      await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: org.apiKey, body: { call_id: 'to-stop' } });
      const first = await jsonRequest(ts, 'POST', '/v1/calls/to-stop/stop', { apiKey: org.apiKey });
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        status: 'success',
        errors: null,
        data: { call_id: 'to-stop', status: 'completed', ended_at: expect.stringMatching(ISO_UTC) },
      });
      await new Promise((r) => setTimeout(r, 5));
      const second = await jsonRequest(ts, 'POST', '/v1/calls/to-stop/stop', { apiKey: org.apiKey });
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      const got = await jsonRequest(ts, 'GET', '/v1/calls/to-stop', { apiKey: org.apiKey });
      expect(got.body.data.status).toBe('completed');
      expect(got.body.data.ended_at).toBe(first.body.data.ended_at);
      // Completed for good: creating the same id again returns the completed call.
      const again = await jsonRequest(ts, 'POST', '/v1/calls', {
        apiKey: org.apiKey,
        body: { call_id: 'to-stop' },
      });
      expect(again.body.data.status).toBe('completed');
      const listen = await jsonRequest(ts, 'POST', '/v1/calls/to-stop/listen', { apiKey: org.apiKey });
      expect(listen.status).toBe(409);
    });

    it("answers 404 CALL_NOT_FOUND for a missing call and for another organization's call", async () => {
      const missing = await jsonRequest(ts, 'POST', '/v1/calls/nope-stop/stop', { apiKey: org.apiKey });
      expect(missing.status).toBe(404);
      expect(missing.text).toBe(
        errorOf('CALL_NOT_FOUND', 'Call does not exist or does not belong to organization'),
      );
      await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: other.apiKey, body: { call_id: 'their-stop' } });
      const foreign = await jsonRequest(ts, 'POST', '/v1/calls/their-stop/stop', { apiKey: org.apiKey });
      expect(foreign.text).toBe(missing.text);
      const still = await jsonRequest(ts, 'GET', '/v1/calls/their-stop', { apiKey: other.apiKey });
      expect(still.body.data.status).toBe('active');
    });
  });

  describe('/v1/org/preferences', () => {
    it('starts disabled; PATCH true enables live listen, PATCH false disables it again', async () => {
      const fresh = await ts.createOrg({ liveListen: false });
      const get = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: fresh.apiKey });
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ status: 'success', data: { live_listen_enabled: false }, errors: null });
      await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: fresh.apiKey, body: { call_id: 'pref-call' } });
      const refused = await jsonRequest(ts, 'POST', '/v1/calls/pref-call/listen', { apiKey: fresh.apiKey });
      expect(refused.status).toBe(403);
      expect(refused.body.errors[0].code).toBe('INVALID_ORG_PREFERENCES');

      const patched = await jsonRequest(ts, 'PATCH', '/v1/org/preferences', {
        apiKey: fresh.apiKey,
        body: { live_listen_enabled: true },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({ status: 'success', data: { live_listen_enabled: true }, errors: null });
      const again = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: fresh.apiKey });
      expect(again.body.data.live_listen_enabled).toBe(true);
      const listen = await jsonRequest(ts, 'POST', '/v1/calls/pref-call/listen', { apiKey: fresh.apiKey });
      expect(listen.status).toBe(200);
      expect(listen.body.data.url).toMatch(/^ws:\/\/.*\/ws\/listen\/pref-call\?token=/);

      const off = await jsonRequest(ts, 'PATCH', '/v1/org/preferences', {
        apiKey: fresh.apiKey,
        body: { live_listen_enabled: false },
      });
      expect(off.body.data.live_listen_enabled).toBe(false);
      const refusedAgain = await jsonRequest(ts, 'POST', '/v1/calls/pref-call/listen', {
        apiKey: fresh.apiKey,
      });
      expect(refusedAgain.status).toBe(403);
    });

    it('answers VALIDATION_ERROR for a non-boolean, a missing field, an unknown field or no body', async () => {
      const fresh = await ts.createOrg({ liveListen: false });
      for (const body of [
        { live_listen_enabled: 'yes' },
        { live_listen_enabled: 'true' },
        { live_listen_enabled: 1 },
        { live_listen_enabled: null },
        {},
        { live_listen_enabled: true, extra: 1 },
        [true],
      ]) {
        const r = await jsonRequest(ts, 'PATCH', '/v1/org/preferences', { apiKey: fresh.apiKey, body });
        expectValidationError(r, JSON.stringify(body));
      }
      const none = await ts.request('/v1/org/preferences', { method: 'PATCH', apiKey: fresh.apiKey });
      expectValidationError({ status: none.status, body: (await none.json()) as ErrorBody }, 'no body');
      const still = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: fresh.apiKey });
      expect(still.body.data.live_listen_enabled).toBe(false);
    });

    it("changes only the calling organization's preferences", async () => {
      const a = await ts.createOrg({ liveListen: false });
      const b = await ts.createOrg({ liveListen: false });
      await jsonRequest(ts, 'PATCH', '/v1/org/preferences', {
        apiKey: a.apiKey,
        body: { live_listen_enabled: true },
      });
      const seen = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: b.apiKey });
      expect(seen.body.data.live_listen_enabled).toBe(false);
    });
  });

  describe('unknown routes', () => {
    it('answers 404 with the envelope and code NOT_FOUND', async () => {
      for (const [method, path] of [
        ['GET', '/v1/nope'],
        ['GET', '/nope'],
        ['POST', '/v1/calls/x/y/z'],
        ['PUT', '/v1/calls'],
      ]) {
        const r = await jsonRequest(ts, method, path, { apiKey: org.apiKey });
        expect(r.status, path).toBe(404);
        expect(r.body, path).toEqual({
          status: 'error',
          data: null,
          errors: [{ code: 'NOT_FOUND', message: expect.any(String) }],
        });
      }
    });
  });
});

describe.each(backends)('the idle timeout on $name', (backend) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer(backend, { EARSHOT_CALL_IDLE_TIMEOUT_S: '1' });
  });
  afterAll(() => ts?.close());

  it('completes a call nobody connected to within about 3 s, and listen then answers 409', async () => {
    const org = await ts.createOrg({ liveListen: true });
    const created = await jsonRequest(ts, 'POST', '/v1/calls', {
      apiKey: org.apiKey,
      body: { call_id: 'idle-1' },
    });
    const start = Date.parse(created.body.data.created_at);
    const listenWhileActive = await jsonRequest(ts, 'POST', '/v1/calls/idle-1/listen', {
      apiKey: org.apiKey,
    });
    expect(listenWhileActive.status).toBe(200);
    const call = await pollUntil(
      async () => (await jsonRequest(ts, 'GET', '/v1/calls/idle-1', { apiKey: org.apiKey })).body.data,
      (data) => data.status === 'completed',
      4000,
    );
    expect(call.status).toBe('completed');
    const endedAfterMs = Date.parse(call.ended_at) - start;
    expect(endedAfterMs).toBeGreaterThanOrEqual(1000);
    expect(endedAfterMs).toBeLessThanOrEqual(3000);
    const listen = await jsonRequest(ts, 'POST', '/v1/calls/idle-1/listen', { apiKey: org.apiKey });
    expect(listen.status).toBe(409);
    expect(listen.text).toBe(errorOf('INVALID_CALL_STATUS', 'Call is not active'));
  });
});

describe.each(backends)('the rate limit on $name', (backend) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer(backend, { EARSHOT_RATE_LIMIT_PER_MIN: '3' });
  });
  afterAll(() => ts?.close());

  it('answers the 4th request of one key with 429 RATE_LIMITED and retry-after, per key, never on /healthz', async () => {
    const a = await ts.createOrg();
    const b = await ts.createOrg();
    for (let i = 0; i < 3; i++) {
      const r = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: a.apiKey });
      expect(r.status, `request ${i + 1}`).toBe(200);
    }
    const limited = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: a.apiKey });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      status: 'error',
      data: null,
      errors: [{ code: 'RATE_LIMITED', message: expect.any(String) }],
    });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The same key in its Bearer form is the same key.
    const bearer = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: `Bearer ${a.apiKey}` });
    expect(bearer.status).toBe(429);
    // Another key is still served.
    const other = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: b.apiKey });
    expect(other.status).toBe(200);
    // Health checks are never limited.
    for (let i = 0; i < 10; i++) {
      const h = await ts.request('/healthz');
      expect(h.status).toBe(200);
      await h.arrayBuffer();
    }
  });
});
