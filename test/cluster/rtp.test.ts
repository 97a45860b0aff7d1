import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLevelNear } from '../helpers/audio-assertions.js';
import { type Cluster, type ClusterNode, clusterAvailable, sleep, startCluster } from '../helpers/cluster.js';
import { rtpPacket, sendSlots, tonePayloads } from '../helpers/rtp-sender.js';
import { startNode } from '../helpers/server-process.js';
import { toneLevelDb } from '../helpers/spectrum.js';
import { openListener } from '../helpers/ws-clients.js';

/**
 * SPEC §4.6 in a cluster: the node that answers `POST …/rtp` binds the port and receives the RTP;
 * the answer's host is that node's address (EARSHOT_RTP_HOST), and the audio reaches listeners on
 * any node through the bus. Two nodes on one port range, each on its own loopback address.
 */
describe.skipIf(!clusterAvailable)('RTP ports in a cluster', () => {
  let cluster: Cluster;
  let other: ClusterNode;

  beforeAll(async () => {
    cluster = await startCluster(1, {
      env: { EARSHOT_RTP_PORTS: '41600-41649', EARSHOT_RTP_HOST: '127.0.0.2' },
    });
    other = await startNode('node2', { ...cluster.env, EARSHOT_RTP_HOST: '127.0.0.3' });
  }, 60_000);
  afterAll(async () => {
    await other?.stop('SIGKILL');
    await cluster?.close();
  });

  it("answers with the allocating node's address, which receives; listeners on the other node hear it", async () => {
    const [first] = cluster.nodes;
    const call = await cluster.newCall(first);
    const path = `/v1/calls/${call.id}/rtp`;
    const here = await first.request(path, {
      method: 'POST',
      apiKey: cluster.apiKey,
      json: { format: 'ulaw' },
    });
    expect(here.status).toBe(200);
    expect(here.body.data.host).toBe('127.0.0.2');
    const there = await other.request(path, {
      method: 'POST',
      apiKey: cluster.apiKey,
      json: { participant: 'agent', format: 'slin16' },
    });
    expect(there.status).toBe(200);
    expect(there.body.data.host).toBe('127.0.0.3');
    // The listener is on the first node; the agent's RTP goes to the second.
    const listener = await openListener(await call.listenUrl(first));
    const source = createSocket('udp4');
    await new Promise<void>((resolve) => source.bind(0, '127.0.0.1', resolve));
    const { payloads } = tonePayloads('slin16', 1000, 2);
    await sendSlots(
      payloads.map(
        (payload, k) => () =>
          source.send(
            rtpPacket({ payloadType: 118, seq: k, timestamp: 320 * k, ssrc: 77, payload }),
            there.body.data.port,
            there.body.data.host,
          ),
      ),
    );
    await sleep(300);
    source.close();
    listener.ws.close();
    let best = -Infinity;
    for (let i = 0; i + 25 <= listener.binary.length; i += 5)
      best = Math.max(best, toneLevelDb(listener.samples(i, i + 25), 16000, 1000));
    expectLevelNear(best, -12);
    const view = await first.request(`/v1/calls/${call.id}`, { apiKey: cluster.apiKey });
    expect(view.body.data.participants).toEqual([
      expect.objectContaining({ name: 'agent', platform: 'rtp', encoding: 'pcm16be', sample_rate: 16000 }),
    ]);
  });
});
