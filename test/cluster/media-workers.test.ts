import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestTwoToneWindow } from '../helpers/audio-assertions.js';
import {
  type Cluster,
  type ClusterNode,
  clusterAvailable,
  startCluster,
  toneChunks,
} from '../helpers/cluster.js';
import { openListener, openSocket, sendPaced } from '../helpers/ws-clients.js';

/**
 * Two nodes on NATS, each with two media workers: every worker is a NATS client of its own (the
 * control plane's BusHub is not used), so audio ingested on one node's worker reaches the listeners
 * on the other node's workers, and the control plane's events reach every worker.
 */
describe.skipIf(!clusterAvailable)(
  'a cluster whose nodes run media workers (EARSHOT_MEDIA_WORKERS=2)',
  () => {
    let cluster: Cluster;

    beforeAll(async () => {
      cluster = await startCluster(2, { env: { EARSHOT_MEDIA_WORKERS: '2' } });
    }, 60_000);
    afterAll(() => cluster?.close());

    it('mixes participants ingested on two nodes for listeners on both; stats gather every worker; revoking closes them all', async () => {
      const [n1, n2] = cluster.nodes;
      const call = await cluster.newCall(n1);
      const minted = new URL(await call.listenUrl(n1));
      const listen = (n: ClusterNode) => openListener(`${n.ws}${minted.pathname}${minted.search}`);
      const listeners = await Promise.all([listen(n1), listen(n2), listen(n2)]);
      const caller = await openSocket(
        call.ingestUrl(n1, 'participant=caller&encoding=mulaw&sample_rate=8000'),
      );
      const agent = await openSocket(
        call.ingestUrl(n2, 'participant=agent&encoding=pcm16&sample_rate=16000'),
      );
      const sending = Promise.all([
        sendPaced(caller, toneChunks(440, 8000, 2, 'mulaw'), 20, (c) => c),
        sendPaced(agent, toneChunks(1000, 16000, 2, 'pcm16'), 20, (c) => c),
      ]);
      await new Promise((r) => setTimeout(r, 1000));
      const during = await n2.request(`/v1/calls/${call.id}`, { apiKey: cluster.apiKey });
      await sending;
      expect(during.body.data.listeners).toBe(3);
      expect(
        (during.body.data.participants as { name: string; connected: boolean }[])
          .map((p) => [p.name, p.connected])
          .sort(),
      ).toEqual([
        ['agent', true],
        ['caller', true],
      ]);
      const revoked = await n2.request(`/v1/calls/${call.id}/listen`, {
        method: 'DELETE',
        apiKey: cluster.apiKey,
      });
      expect(revoked.status).toBe(200);
      for (const l of listeners) expect(await l.closed).toEqual({ code: 4001, reason: 'revoked' });
      for (const [i, l] of listeners.entries()) {
        const best = bestTwoToneWindow(l, 16000, [440, 1000]);
        expect(best.tone1, `440 Hz at listener ${i}`).toBeGreaterThan(-20);
        expect(best.tone2, `1 kHz at listener ${i}`).toBeGreaterThan(-20);
      }
      caller.close();
      agent.close();
    });
  },
);
