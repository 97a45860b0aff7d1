import { describe, expect, it } from 'vitest';
import { sqliteBackend } from '../helpers/databases.js';
import { jsonRequest, LISTENER_MODES, startTestServer } from '../helpers/server.js';
import { closedWith, openListener, openSocket, sendPaced } from '../helpers/ws-clients.js';

describe('server shutdown and the idle timeout', () => {
  it.each(LISTENER_MODES)(
    '%s: closes listeners and ingest with 1001 when the server shuts down',
    async (_mode, modeEnv) => {
      const ts = await startTestServer(sqliteBackend, modeEnv);
      const { apiKey } = await ts.createOrg({ liveListen: true });
      const created = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey });
      const id = created.body.data.call_id;
      const listener = await openListener(
        (await jsonRequest(ts, 'POST', `/v1/calls/${id}/listen`, { apiKey })).body.data.url,
      );
      const ingest = await openSocket(`${created.body.data.ingest.url}&participant=caller`);
      const ingestClosed = closedWith(ingest);
      const t0 = performance.now();
      await ts.close();
      expect(performance.now() - t0).toBeLessThan(10_000);
      expect(await listener.closed).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(await ingestClosed).toEqual({ code: 1001, reason: 'server shutting down' });
    },
  );

  it('keeps a call with ingest connected active past the idle timeout, and completes it once ingest is gone', async () => {
    const ts = await startTestServer(sqliteBackend, { EARSHOT_CALL_IDLE_TIMEOUT_S: '1' });
    try {
      const { apiKey } = await ts.createOrg({ liveListen: true });
      const created = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey });
      const id = created.body.data.call_id;
      const listener = await openListener(
        (await jsonRequest(ts, 'POST', `/v1/calls/${id}/listen`, { apiKey })).body.data.url,
      );
      const ingest = await openSocket(
        `${created.body.data.ingest.url}&participant=caller&encoding=mulaw&sample_rate=8000`,
      );
      await sendPaced(
        ingest,
        Array.from({ length: 125 }, () => Buffer.alloc(160, 0xff)),
        20,
        (c) => c,
      );
      expect((await jsonRequest(ts, 'GET', `/v1/calls/${id}`, { apiKey })).body.data.status).toBe('active');
      ingest.close();
      const t0 = performance.now();
      expect(await listener.closed).toEqual({ code: 1000, reason: 'call ended' });
      // Completed about a timeout after the last ingest left (sweeps run every 250 ms here).
      expect(performance.now() - t0).toBeLessThan(4000);
      expect((await jsonRequest(ts, 'GET', `/v1/calls/${id}`, { apiKey })).body.data.status).toBe(
        'completed',
      );
    } finally {
      await ts.close();
    }
  });
});
