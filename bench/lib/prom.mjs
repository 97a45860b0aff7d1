/** Just enough of the Prometheus text format to read earshot's /metrics. */

/** Parses exposition text into a Map of `name{labels}` (labels as printed) → value. */
export function parseProm(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Sum of every series of `name` (whatever its labels). */
export function sumOf(metrics, name) {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key === name || key.startsWith(`${name}{`)) sum += value;
  }
  return sum;
}

export async function scrape(baseUrl) {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return parseProm(await res.text());
}

/**
 * The q-quantile of a histogram over the interval between two scrapes, from its cumulative
 * buckets (the upper bound of the bucket holding it; Infinity if beyond the last bucket).
 */
export function histogramQuantile(before, after, name, q) {
  const buckets = [];
  for (const [key, value] of after) {
    const m = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(key);
    if (m)
      buckets.push({
        le: m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]),
        n: value - (before.get(key) ?? 0),
      });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (total === 0) return Number.NaN;
  for (const b of buckets) if (b.n >= q * total) return b.le;
  return Number.POSITIVE_INFINITY;
}
