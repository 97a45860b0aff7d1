/**
 * bench/cluster-bench.mjs's orchestration: nats-server, two nodes (A and B) sharing one SQLite file
 * and that NATS, the latency phase, the NATS transport alone, the throughput phases (same node,
 * via NATS), the Markdown on stdout. Everything is torn down at the end, also on failure or a signal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apiClient, createCall } from '../api.mjs';
import { createOrg, earshotEnv, startEarshot } from '../earshot-server.mjs';
import { freePort } from '../ports.mjs';
import { onTeardown, stopOnSignals, teardown } from '../teardown.mjs';
import { latencyPhase, MARKER_EVERY, natsTransport } from './latency.mjs';
import { startNats } from './nats.mjs';
import { clusterMarkdown } from './report.mjs';
import { throughputPhase } from './throughput.mjs';

/** `o`: { quick, listeners, calls, latencyS, windowS }. */
async function measure({ quick, listeners, calls: callCount, latencyS, windowS }) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'earshot-cluster-bench-'));
  onTeardown(() => rmSync(tmp, { recursive: true, force: true }));
  const nats = await startNats();
  const dbUrl = `sqlite:${path.join(tmp, 'earshot.db')}`;
  const extra = { EARSHOT_NATS_URL: nats.url, EARSHOT_NATS_PREFIX: 'bench' };
  const node = async () => startEarshot({ env: earshotEnv({ dbUrl, port: await freePort(), extra }) });
  const a = await node();
  const b = await node();
  const api = apiClient(a.base, await createOrg(earshotEnv({ dbUrl, port: a.port })));
  const newCalls = () => Promise.all(Array.from({ length: callCount }, () => createCall(api)));

  console.error(`latency: ${latencyS} s, a marker every ${MARKER_EVERY * 20} ms …`);
  const lat = await latencyPhase(a, b, await createCall(api), latencyS);
  const transport = await natsTransport(nats.url, quick ? 50 : 500);
  console.error(
    `throughput: ${callCount} calls × 2 participants → ${listeners} listeners on node B, ${windowS} s per phase …`,
  );
  const phase = { listenNode: b, nodes: [a, b], nats, listeners, windowS };
  const same = await throughputPhase({
    ...phase,
    label: 'same node (ingest on B)',
    ingestNode: b,
    calls: await newCalls(),
  });
  const viaNats = await throughputPhase({
    ...phase,
    label: 'via NATS (ingest on A)',
    ingestNode: a,
    calls: await newCalls(),
  });
  return clusterMarkdown({ lat, transport, same, viaNats, latencyS, calls: callCount, listeners, windowS });
}

/** Runs the cluster benchmark (`o` as for measure); resolves with the exit code. */
export async function run(o) {
  stopOnSignals('cluster-bench');
  try {
    console.log(await measure(o));
    return 0;
  } catch (err) {
    console.error(err);
    return 1;
  } finally {
    await teardown();
  }
}
