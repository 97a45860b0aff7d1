#!/usr/bin/env node
/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --profile`, or `node --cpu-prof`): the
 * functions with the most self time and the most inclusive time, as % of all samples.
 *
 *   node bench/profile-summary.mjs <file.cpuprofile> [top=30]
 */
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = profile.samples.length;
const name = (n) => {
  const url = n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^node:/, '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
};
const self = new Map();
const inclusive = new Map();
for (const [id, count] of hits) {
  const key = name(byId.get(id));
  self.set(key, (self.get(key) ?? 0) + count);
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const k = name(byId.get(x));
    if (!seen.has(k)) {
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + count);
    }
  }
}
const list = (m) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(6)} %  ${k}`)
    .join('\n');
console.log(`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`);
console.log(`\nself time\n${list(self)}\n\ninclusive time\n${list(inclusive)}`);
