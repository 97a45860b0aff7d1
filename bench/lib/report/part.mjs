/**
 * What the parts run as their own processes (bench/lib/child-part.mjs) share in the report: their
 * [figure, measured, target, verdict] rows as a console table, and docs/benchmarks.md with their
 * rows and section added.
 */

/** [figure, measured, target, verdict] rows as the console table (Figure / Measured / Target) every part prints. */
export function partTable(rows) {
  const r = [['Figure', 'Measured', 'Target', ''], ...rows];
  const w = [0, 1, 2, 3].map((i) => Math.max(...r.map((row) => row[i].length)));
  const line = (row) =>
    row
      .map((c, i) => c.padEnd(w[i]))
      .join('  ')
      .trimEnd();
  return [line(r[0]), w.map((n) => '-'.repeat(n)).join('  '), ...r.slice(1).map(line)].join('\n');
}

/**
 * docs/benchmarks.md with a part added: its rows at the end of the results table (the first table
 * after `## Results`), its section (lines) before `## Cluster` (else `## Notes`, else at the end).
 */
export function addPartToReport(text, rows, section) {
  const lines = text.split('\n');
  const results = lines.indexOf('## Results');
  if (results >= 0) {
    let i = results + 1;
    while (i < lines.length && !lines[i].startsWith('|')) i++;
    while (i < lines.length && lines[i].startsWith('|')) i++;
    lines.splice(
      i,
      0,
      ...rows.map(([a, b, t, v]) => `| ${a.trim()} | ${b} | ${t} | ${v ? `**${v}**` : ''} |`),
    );
  }
  let at = lines.findIndex((l) => l.startsWith('## Cluster'));
  if (at < 0) at = lines.indexOf('## Notes');
  if (at < 0) {
    if (lines.at(-1) !== '') lines.push('');
    lines.push(...section);
  } else lines.splice(at, 0, ...section);
  return lines.join('\n');
}
