import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { backends } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';

/** Every 16-character window of the secret part of `secret` (a key's visible 12-character prefix is public). */
function secretWindows(secret: string): string[] {
  const from = secret.startsWith('esk_') ? 12 : 0;
  const windows: string[] = [secret];
  for (let i = from; i + 16 <= secret.length; i++) windows.push(secret.slice(i, i + 16));
  return windows;
}

/**
 * Opens a WebSocket, then closes it; resolves with 101 for an accepted upgrade or the refusal's status.
 * `script` runs once open (e.g. to send Twilio events) before the socket is closed.
 */
function upgrade(
  url: string,
  headers: Record<string, string> = {},
  script: (ws: WebSocket) => Promise<void> = async () => {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer from ${url.replace(/token=[^&]*/, 'token=…')} within 5 s`));
    }, 5000);
    ws.once('open', () => {
      script(ws)
        .then(() => {
          ws.once('close', () => {
            clearTimeout(timer);
            resolve(101);
          });
          if (ws.readyState === ws.CLOSED) {
            clearTimeout(timer);
            resolve(101);
          } else ws.close(1000);
        })
        .catch(reject);
    });
    ws.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe.each(backends)('secrets never reach the logs on $name', (backend) => {
  const adminToken = `adm_${randomBytes(24).toString('base64url')}`;
  const admin = `Bearer ${adminToken}`;
  let ts: TestServer;
  const secrets = new Set<string>([adminToken]);
  const keep = (secret: string) => {
    expect(typeof secret).toBe('string');
    expect(secret.length).toBeGreaterThanOrEqual(16);
    secrets.add(secret);
    return secret;
  };

  const wrongKeyLike = () => keep(randomBytes(32).toString('base64url'));

  beforeAll(async () => {
    ts = await startTestServer(backend, { EARSHOT_LOG_LEVEL: 'trace', EARSHOT_ADMIN_TOKEN: adminToken });
  });
  afterAll(() => ts?.close());

  it('keeps every API key, token and the admin token out of trace-level logs, while logging redacted URLs', async () => {
    // Admin: an organization, a second key, a wrong admin token.
    const created = await jsonRequest(ts, 'POST', '/admin/v1/orgs', {
      apiKey: admin,
      body: { name: 'Secretive', live_listen_enabled: true },
    });
    expect(created.status).toBe(200);
    const orgId = created.body.data.org_id as string;
    const keyA = keep(created.body.data.api_key);
    const second = await jsonRequest(ts, 'POST', `/admin/v1/orgs/${orgId}/keys`, { apiKey: adminToken });
    expect(second.status).toBe(200);
    const keyB = keep(second.body.data.api_key);
    const third = await jsonRequest(ts, 'POST', `/admin/v1/orgs/${orgId}/keys`, { apiKey: admin });
    const keyC = keep(third.body.data.api_key);
    const wrongAdmin = keep(`${adminToken}-but-wrong`);
    expect(
      (
        await jsonRequest(ts, 'POST', '/admin/v1/orgs', {
          apiKey: `Bearer ${wrongAdmin}`,
          body: { name: 'x' },
        })
      ).status,
    ).toBe(401);

    // /v1 with both header forms.
    const call = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: keyA, body: { call_id: 'CA-secret' } });
    expect(call.status).toBe(200);
    const ingestToken = keep(call.body.data.ingest.token);
    const again = await jsonRequest(ts, 'POST', '/v1/calls', {
      apiKey: `Bearer ${keyB}`,
      body: { call_id: 'CA-secret' },
    });
    keep(again.body.data.ingest.token);
    expect((await jsonRequest(ts, 'GET', '/v1/calls/CA-secret', { apiKey: `Bearer ${keyB}` })).status).toBe(
      200,
    );
    expect((await jsonRequest(ts, 'GET', '/v1/calls?limit=5', { apiKey: keyA })).status).toBe(200);
    const listen = await jsonRequest(ts, 'POST', '/v1/calls/CA-secret/listen', { apiKey: keyA });
    expect(listen.status).toBe(200);
    const listenUrl = new URL(listen.body.data.url);
    const listenToken = keep(listenUrl.searchParams.get('token')!);

    // The socket endpoints as plain HTTP requests, with the tokens in the query string.
    for (const path of [
      `/ws/listen/CA-secret?token=${listenToken}`,
      `/ws/ingest/CA-secret?token=${ingestToken}&participant=caller`,
      `/ws/listen/CA-secret?events=1&token=${listenToken}`,
    ]) {
      const r = await ts.request(path);
      await r.arrayBuffer();
      expect(r.status).toBeGreaterThanOrEqual(400);
    }
    // Real WebSocket upgrades: accepted and refused, with tokens in the URL or a key in the header.
    const wsBase = ts.url.replace(/^http/, 'ws');
    expect(await upgrade(listenUrl.toString())).toBe(101);
    expect(await upgrade(`${wsBase}/ws/listen/CA-secret?token=${wrongKeyLike()}`)).toBe(401);
    expect(await upgrade(`${wsBase}/ws/listen/CA-secret?token=${ingestToken}`)).toBe(401);
    expect(
      await upgrade(`${call.body.data.ingest.url}&participant=caller&encoding=pcm16&sample_rate=16000`),
    ).toBe(101);
    expect(
      await upgrade(`${wsBase}/ws/ingest/CA-secret?participant=agent&encoding=pcm16&sample_rate=16000`, {
        authorization: keyA,
      }),
    ).toBe(101);
    expect(await upgrade(`${wsBase}/ws/ingest/CA-secret?participant=agent&token=${listenToken}`)).toBe(401);
    // Twilio carries the ingest token inside the `start` event.
    const twilioCall = await jsonRequest(ts, 'POST', '/v1/calls', {
      apiKey: keyA,
      body: { call_id: 'CA-twilio' },
    });
    const twilioToken = keep(twilioCall.body.data.ingest.token);
    const streamSid = 'MZ00000000000000000000000000000001';
    expect(
      await upgrade(twilioCall.body.data.ingest.twilio_url, {}, async (ws) => {
        const send = (event: object) => ws.send(JSON.stringify({ ...event, streamSid }));
        ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
        send({
          event: 'start',
          sequenceNumber: '1',
          start: {
            accountSid: 'AC00000000000000000000000000000001',
            streamSid,
            callSid: 'CA00000000000000000000000000000001',
            tracks: ['inbound'],
            mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
            customParameters: { call_id: 'CA-twilio', token: twilioToken },
          },
        });
        send({
          event: 'stop',
          sequenceNumber: '2',
          stop: { accountSid: 'AC00000000000000000000000000000001' },
        });
        await new Promise((r) => setTimeout(r, 100));
      }),
    ).toBe(101);
    // The token was accepted: Twilio's `stop` completed the call.
    const deadline = Date.now() + 2000;
    let twilioStatus = '';
    while (twilioStatus !== 'completed' && Date.now() < deadline) {
      twilioStatus = (await jsonRequest(ts, 'GET', '/v1/calls/CA-twilio', { apiKey: keyA })).body.data.status;
      if (twilioStatus !== 'completed') await new Promise((r) => setTimeout(r, 25));
    }
    expect(twilioStatus).toBe('completed');

    // A key in the query string of an API route is redacted too.
    await (await ts.request(`/v1/org/preferences?api_key=${keyC}`)).arrayBuffer();

    // Failed authentication with a wrong key, in both forms; then a revoked key.
    const wrongKey = keep(`esk_${randomBytes(32).toString('base64url')}`);
    for (const apiKey of [wrongKey, `Bearer ${wrongKey}`]) {
      expect((await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey })).status).toBe(401);
    }
    const prefixC = third.body.data.key_prefix as string;
    expect((await jsonRequest(ts, 'DELETE', `/admin/v1/keys/${prefixC}`, { apiKey: admin })).status).toBe(
      200,
    );
    expect((await jsonRequest(ts, 'GET', '/v1/org/preferences', { apiKey: keyC })).status).toBe(401);

    // Validation failures carrying a key in the body are not echoed into the logs either.
    await jsonRequest(ts, 'PATCH', '/v1/org/preferences', {
      apiKey: keyA,
      body: { live_listen_enabled: keyB },
    });

    // Bounded wait for the socket closes to be logged.
    await new Promise((r) => setTimeout(r, 100));
    const logText = ts.logs.join('');
    expect(ts.logs.length).toBeGreaterThan(20);
    expect(ts.server.deps.logger.level).toBe('trace');
    expect(logText).toContain(`/ws/listen/CA-secret?token=[redacted]`);
    expect(logText).toContain(`/ws/ingest/CA-secret?token=[redacted]&participant=caller`);
    expect(logText).toContain(`/v1/org/preferences?api_key=[redacted]`);
    expect(logText).toContain('/v1/calls/CA-secret/listen');
    expect(logText).toContain(`/admin/v1/orgs/${orgId}/keys`);
    expect(logText).toContain('websocket upgrade');

    expect(secrets.size).toBeGreaterThanOrEqual(9);
    for (const secret of secrets) {
      for (const fragment of secretWindows(secret)) {
        expect(
          logText.includes(fragment),
          `a fragment of a secret (${secret.slice(0, 6)}…) is in the logs`,
        ).toBe(false);
      }
    }
  });
});
