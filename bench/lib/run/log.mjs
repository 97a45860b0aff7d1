/** Progress lines of bench/run.mjs on stderr: time since start, and one line per measured window. */
import { percentile } from '../stats.mjs';

const T0 = performance.now();

export const log = (msg) =>
  process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);

/** One measured window (see measure.mjs) as a line: `label: listeners N  cpu …`. */
export function windowLine(label, m, listeners) {
  const parts = [
    `${label}: listeners ${listeners}`,
    `cpu ${m.serverCpu.toFixed(1)}% (sys ${m.serverSysCpu.toFixed(1)})`,
    `gen ${m.generatorCpu.toFixed(0)}%`,
    `others ${m.othersCpu.toFixed(0)}%${m.attempts > 1 ? ` (try ${m.attempts})` : ''}`,
    `msg/s ${m.messagesPerS.toFixed(0)}`,
    `rss ${m.rssMb.toFixed(0)}MB`,
  ];
  if (Number.isFinite(m.heapMinMb))
    parts.push(`heap ${m.heapMinMb.toFixed(1)}MB`, `lag99 ${m.lagP99Ms.toFixed(1)}ms`);
  if (Number.isFinite(m.tickP99Ms)) parts.push(`tick99 ≤${m.tickP99Ms}ms`);
  if (m.coalescing > 1) parts.push(`${m.coalescing} ticks/write`);
  parts.push(`drop ${m.dropped}`, `skip ${m.skippedTicks}`);
  if (Number.isFinite(m.cheapMsgPerS)) parts.push(`cheap ${m.cheapMsgPerS.toFixed(1)}/s`);
  if (m.probe) {
    const lat = m.probe.latencies;
    const p = (q) => (lat.length ? percentile(lat, q).toFixed(1) : 'n/a');
    parts.push(`latency n=${lat.length} p50 ${p(50)} p99 ${p(99)} lost ${m.probe.missed}`);
  }
  return parts.join('  ');
}
