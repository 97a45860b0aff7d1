/** The cluster benchmark's Markdown (it goes into docs/benchmarks.md as it is). */
import os from 'node:os';
import { percentile } from '../stats.mjs';

const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
/** p50 | p99 | max of sorted `values`. */
const spread = (values) =>
  `${ms(percentile(values, 50))} | ${ms(percentile(values, 99))} | ${ms(values.at(-1))}`;

/** From the results of the phases (latency.mjs, throughput.mjs) and the sizes of the run. */
export function clusterMarkdown({ lat, transport, same, viaNats, latencyS, calls, listeners, windowS }) {
  return [
    `### Cluster benchmark (${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version})`,
    '',
    `Latency: marker message sent on ingest → received by a listener; ${lat.markers} markers sent in ${latencyS} s, counted while both listeners of a round were settled (the 0.7 s between rounds is not).`,
    '',
    '| listener | p50 | p99 | max | markers counted |',
    '|---|---|---|---|---|',
    `| same node as ingest | ${spread(lat.same)} | ${lat.same.length} |`,
    `| other node (via NATS) | ${spread(lat.cross)} | ${lat.cross.length} |`,
    `| **NATS hop** (difference, per marker) | ${spread(lat.hop)} | ${lat.hop.length} |`,
    `| NATS transport alone (680 B, publish → other connection) | ${spread(transport)} | ${transport.length} messages |`,
    '',
    "The hop includes the phase offset between the two nodes' 20 ms mixing clocks (fixed for a pair of",
    'processes, 0–20 ms, 10 ms on average): a frame waits for the next tick of the node that mixes it.',
    '',
    `Throughput: ${calls} calls × 2 participants, ${listeners} listeners on node B (raw sockets), ${windowS} s window.`,
    '',
    '| phase | listeners open | written msg/s (B) | received msg/s | expected | drops (A / B) | CPU node A | CPU node B | CPU nats-server | RSS node B |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...[same, viaNats].map(
      (r) =>
        `| ${r.label} | ${r.openListeners} | ${r.serverOut.toFixed(0)} | ${r.delivered.toFixed(0)} | ${r.expected} | ${r.drops[0]} / ${r.drops[1]} | ${r.cpuA.toFixed(0)} % | ${r.cpuB.toFixed(0)} % | ${r.cpuNats.toFixed(0)} % | ${r.rssB.toFixed(0)} MiB |`,
    ),
    '',
    `Node B CPU via NATS / same node: ${(viaNats.cpuB / Math.max(1e-9, same.cpuB)).toFixed(2)}×.`,
  ].join('\n');
}
