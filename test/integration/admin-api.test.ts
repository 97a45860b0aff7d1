import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

type Envelope = { errors: { code: string }[] };

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';
const admin = `Bearer ${ADMIN_TOKEN}`;

describe.each(backends)('/admin/v1 on $name', (backend) => {
  describe('without EARSHOT_ADMIN_TOKEN', () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer(backend);
    });
    afterAll(() => ts?.close());

    it('answers every admin route with 404 NOT_FOUND, whatever the token', async () => {
      const org = await ts.createOrg();
      for (const [method, path, body] of [
        ['POST', '/admin/v1/orgs', { name: 'Acme' }],
        ['POST', `/admin/v1/orgs/${org.orgId}/keys`, undefined],
        ['DELETE', `/admin/v1/keys/${org.prefix}`, undefined],
      ] as const) {
        for (const apiKey of [undefined, admin, 'Bearer ']) {
          const r = await jsonRequest(ts, method, path, { apiKey, body });
          expect(r.status, `${method} ${path}`).toBe(404);
          expect(r.body).toEqual({
            status: 'error',
            data: null,
            errors: [{ code: 'NOT_FOUND', message: expect.any(String) }],
          });
        }
      }
      // The key was not revoked by the DELETE above.
      const still = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: org.apiKey });
      expect(still.status).toBe(200);
    });
  });

  describe('with EARSHOT_ADMIN_TOKEN', () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer(backend, { EARSHOT_ADMIN_TOKEN: ADMIN_TOKEN });
    });
    afterAll(() => ts?.close());

    const createOrg = async (body: unknown) =>
      jsonRequest(ts, 'POST', '/admin/v1/orgs', { apiKey: admin, body });

    it('answers 401 UNAUTHORIZED for a missing or wrong admin token, and for an API key', async () => {
      const org = await ts.createOrg();
      for (const apiKey of [
        undefined,
        '',
        'Bearer ',
        `Bearer ${ADMIN_TOKEN}x`,
        `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
        'Bearer wrong-token-wrong-token',
        org.apiKey,
        `Bearer ${org.apiKey}`,
      ]) {
        for (const [method, path] of [
          ['POST', '/admin/v1/orgs'],
          ['POST', `/admin/v1/orgs/${org.orgId}/keys`],
          ['DELETE', `/admin/v1/keys/${org.prefix}`],
        ] as const) {
          const r = await jsonRequest(ts, method, path, {
            apiKey,
            body: method === 'POST' ? { name: 'x' } : undefined,
          });
          expect(r.status, `${apiKey} ${method} ${path}`).toBe(401);
          expect(r.body.errors[0].code).toBe('UNAUTHORIZED');
          expect(r.body.data).toBeNull();
        }
      }
      const still = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: org.apiKey });
      expect(still.status).toBe(200);
    });

    it('accepts the admin token without the Bearer word too', async () => {
      const r = await jsonRequest(ts, 'POST', '/admin/v1/orgs', {
        apiKey: ADMIN_TOKEN,
        body: { name: 'Plain' },
      });
      expect(r.status).toBe(200);
    });

    it('creates an organization whose key works on /v1, with live listen as asked', async () => {
      const on = await createOrg({ name: 'Acme Telecom', live_listen_enabled: true });
      expect(on.status).toBe(200);
      expect(on.body.status).toBe('success');
      expect(Object.keys(on.body.data).sort()).toEqual(['api_key', 'key_prefix', 'name', 'org_id']);
      expect(on.body.data.name).toBe('Acme Telecom');
      expect(on.body.data.api_key).toMatch(/^esk_[A-Za-z0-9_-]{43}$/);
      expect(on.body.data.key_prefix).toBe(on.body.data.api_key.slice(0, 12));
      const prefs = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: on.body.data.api_key });
      expect(prefs.status).toBe(200);
      expect(prefs.body.data.live_listen_enabled).toBe(true);

      const off = await createOrg({ name: 'Default Co' });
      expect(off.status).toBe(200);
      expect(off.body.data.org_id).not.toBe(on.body.data.org_id);
      const offPrefs = await jsonRequest(ts, 'GET', '/v1/org/preferences', {
        apiKey: `Bearer ${off.body.data.api_key}`,
      });
      expect(offPrefs.body.data.live_listen_enabled).toBe(false);
    });

    it('answers VALIDATION_ERROR for a bad organization body', async () => {
      for (const body of [
        {},
        { name: '' },
        { name: 'x'.repeat(201) },
        { name: 42 },
        { name: 'Acme', live_listen_enabled: 'yes' },
        { name: 'Acme', live_listen_enabled: 'true' },
        { name: 'Acme', extra: true },
        ['Acme'],
      ]) {
        const r = await createOrg(body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.errors[0].code, JSON.stringify(body)).toBe('VALIDATION_ERROR');
      }
      const malformed = await ts.request('/admin/v1/orgs', {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/json' },
        body: '{"name":',
      });
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as Envelope).errors[0].code).toBe('VALIDATION_ERROR');
      const none = await ts.request('/admin/v1/orgs', { method: 'POST', headers: { authorization: admin } });
      expect(none.status).toBe(400);
      expect(((await none.json()) as Envelope).errors[0].code).toBe('VALIDATION_ERROR');
    });

    it('creates a second working key for an organization; an unknown org is 404 NOT_FOUND', async () => {
      const org = (await createOrg({ name: 'Two Keys' })).body.data;
      const second = await jsonRequest(ts, 'POST', `/admin/v1/orgs/${org.org_id}/keys`, { apiKey: admin });
      expect(second.status).toBe(200);
      expect(Object.keys(second.body.data).sort()).toEqual(['api_key', 'key_prefix']);
      expect(second.body.data.api_key).not.toBe(org.api_key);
      expect(second.body.data.key_prefix).toBe(second.body.data.api_key.slice(0, 12));
      for (const key of [org.api_key, second.body.data.api_key]) {
        const r = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: key, body: { call_id: 'shared' } });
        expect(r.status).toBe(200);
      }
      // Both keys act for the same organization: one call, seen through either key.
      const list = await jsonRequest(ts, 'GET', '/v1/calls', { apiKey: second.body.data.api_key });
      expect(list.body.data.calls.map((c: { call_id: string }) => c.call_id)).toEqual(['shared']);

      for (const unknown of ['00000000-0000-0000-0000-000000000000', 'nope']) {
        const r = await jsonRequest(ts, 'POST', `/admin/v1/orgs/${unknown}/keys`, { apiKey: admin });
        expect(r.status, unknown).toBe(404);
        expect(r.body.errors[0].code).toBe('NOT_FOUND');
      }
    });

    it("revokes a key by prefix: it then gets 401 on /v1 while the org's other key works; again or unknown is 404", async () => {
      const org = (await createOrg({ name: 'Revoker', live_listen_enabled: true })).body.data;
      const spare = (await jsonRequest(ts, 'POST', `/admin/v1/orgs/${org.org_id}/keys`, { apiKey: admin }))
        .body.data;
      const revoked = await jsonRequest(ts, 'DELETE', `/admin/v1/keys/${org.key_prefix}`, { apiKey: admin });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toEqual({
        status: 'success',
        data: { key_prefix: org.key_prefix, revoked: true },
        errors: null,
      });
      const refused = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: org.api_key });
      expect(refused.status).toBe(401);
      expect(refused.body.errors[0].code).toBe('UNAUTHORIZED');
      const works = await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: spare.api_key });
      expect(works.status).toBe(200);
      expect(works.body.data.live_listen_enabled).toBe(true);

      for (const prefix of [org.key_prefix, 'esk_unknown0', 'x']) {
        const r = await jsonRequest(ts, 'DELETE', `/admin/v1/keys/${prefix}`, { apiKey: admin });
        expect(r.status, prefix).toBe(404);
        expect(r.body.errors[0].code).toBe('NOT_FOUND');
      }
    });
  });
});
