import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, clusterAvailable, sleep, startCluster } from '../helpers/cluster.js';
import { closedWith, openListener, openSocket, type TestListener } from '../helpers/ws-clients.js';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';
const admin = `Bearer ${ADMIN_TOKEN}`;

const closedWithin = (closed: Promise<{ code: number; reason: string }>, ms: number) =>
  Promise.race([closed, sleep(ms).then(() => 'open' as const)]);

async function expectStreaming(l: TestListener): Promise<void> {
  const before = l.binary.length;
  await sleep(300);
  expect(l.binary.length).toBeGreaterThan(before + 5);
}

/**
 * Revocations decided on one node close what another node holds: the `revoked` event crosses NATS
 * with its selectors (token hashes, API key prefix) intact.
 */
describe.skipIf(!clusterAvailable)('revocation across a cluster of two earshot processes', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(2, { env: { EARSHOT_ADMIN_TOKEN: ADMIN_TOKEN } });
  }, 60_000);
  afterAll(() => cluster?.close());

  it('revoking a key on node 1 closes, on node 2, the listeners of its URLs and the ingest it authenticated; turning live listen off closes the rest', async () => {
    const [n1, n2] = cluster.nodes;
    const org = await n1.request('/admin/v1/orgs', {
      method: 'POST',
      apiKey: admin,
      json: { name: 'Revoked org', live_listen_enabled: true },
    });
    const { org_id: orgId, api_key: k1, key_prefix: k1Prefix } = org.body.data;
    const k2 = (await n1.request(`/admin/v1/orgs/${orgId}/keys`, { method: 'POST', apiKey: admin })).body.data
      .api_key as string;
    const created = await n1.request('/v1/calls', { method: 'POST', apiKey: k1, json: {} });
    const { call_id: id, ingest } = created.body.data;
    const mint = async (apiKey: string) => {
      const r = await n1.request(`/v1/calls/${id}/listen`, { method: 'POST', apiKey });
      const url = new URL(r.body.data.url);
      return `${n2.ws}${url.pathname}${url.search}`;
    };
    const byK1 = await openListener(await mint(k1));
    const byK2 = await openListener(await mint(k2));
    const ingestUrl = (participant: string) =>
      `${n2.ws}/ws/ingest/${id}?participant=${participant}&encoding=pcm16&sample_rate=16000`;
    const keyIngest = await openSocket(ingestUrl('bot'), { authorization: k1 });
    const keyIngestClosed = closedWith(keyIngest);
    const tokenIngest = await openSocket(`${ingestUrl('caller')}&token=${ingest.token}`);
    await sleep(200);

    const at = performance.now();
    const r = await n1.request(`/admin/v1/keys/${k1Prefix}`, { method: 'DELETE', apiKey: admin });
    expect(r.status).toBe(200);
    expect(await closedWithin(byK1.closed, 1000)).toEqual({ code: 4001, reason: 'revoked' });
    expect(await closedWithin(keyIngestClosed, 1000)).toEqual({ code: 4001, reason: 'revoked' });
    expect(performance.now() - at).toBeLessThan(1000);
    await expectStreaming(byK2);
    expect(tokenIngest.readyState).toBe(tokenIngest.OPEN);

    const off = await n1.request('/v1/org/preferences', {
      method: 'PATCH',
      apiKey: k2,
      json: { live_listen_enabled: false },
    });
    expect(off.status).toBe(200);
    expect(await closedWithin(byK2.closed, 1000)).toEqual({ code: 4001, reason: 'revoked' });
    expect(tokenIngest.readyState).toBe(tokenIngest.OPEN);
    tokenIngest.close();
  });
});
