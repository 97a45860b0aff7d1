/**
 * Realtime isolation (bench/realtime-isolation.mjs) in bench/run.mjs's report: rows for the results
 * table, the section of docs/benchmarks.md, the console table.
 */
import { f0, f1, verdict } from './format.mjs';
import { addPartToReport, partTable } from './part.mjs';

/** Issue 11: no listener gap over 100 ms; a stalled or half-speed listener closed within 10 s. */
export const MAX_GAP_MS = 100;
export const CLOSED_WITHIN_S = 10;

const closedIn = (x) =>
  x.droppedAfterS !== null && x.droppedAfterS <= CLOSED_WITHIN_S && x.closeCode === 1008;
const closedText = (x) =>
  x.droppedAfterS === null ? 'never' : `${f1(x.droppedAfterS)} s (${x.closeCode ?? 'none'})`;

/** [figure, measured, target, verdict] rows. */
export function realtimeIsolationRows(part) {
  const r = part.result;
  if (!r)
    return [['Realtime isolation: API flood and stalled listeners', part.error ?? part.skipped, '', '']];
  const m = r.modes;
  const each = (fn) => m.map(fn).join(' / ');
  const labels = m.map((x) => x.label).join(' / ');
  return [
    [
      `API flood, 50 valid requests in flight for ${r.floodS} s (GET /v1/calls/{id}; requests/s answered 200): a listener's longest gap, ${labels} (ms)`,
      `${each((x) => f0(x.flood.bystander.maxGapMs))} (${each((x) => f0(x.flood.okPerS))} req/s)`,
      `≤ ${MAX_GAP_MS}`,
      verdict(m.every((x) => x.flood.bystander.maxGapMs <= MAX_GAP_MS && x.flood.bystander.closed === null)),
    ],
    [
      `A client that stops reading: closed after (close code), ${labels}`,
      each((x) => closedText(x.stalled.stopped)),
      `≤ ${CLOSED_WITHIN_S} s (1008)`,
      verdict(m.every((x) => closedIn(x.stalled.stopped))),
    ],
    [
      `A client that reads at half speed: closed after (close code), ${labels}`,
      each((x) => closedText(x.stalled.halfSpeed)),
      `≤ ${CLOSED_WITHIN_S} s (1008)`,
      verdict(m.every((x) => closedIn(x.stalled.halfSpeed))),
    ],
    [
      `… a healthy listener of the same call meanwhile: longest gap, ${labels} (ms)`,
      each((x) => f0(x.stalled.bystander.maxGapMs)),
      `≤ ${MAX_GAP_MS}`,
      verdict(
        m.every((x) => x.stalled.bystander.maxGapMs <= MAX_GAP_MS && x.stalled.bystander.closed === null),
      ),
    ],
  ];
}

export const realtimeIsolationTable = (part) => partTable(realtimeIsolationRows(part));

/** The section of docs/benchmarks.md (lines). */
export function realtimeIsolationMarkdown(part) {
  const md = ['## Realtime isolation', ''];
  const r = part.result;
  if (!r) return [...md, `_${part.error ?? part.skipped}_`, ''];
  md.push(
    'Run by `npm run bench` after the parts above (alone: `node bench/realtime-isolation.mjs`), against a fresh ' +
      'server per mode, in one process and with one media worker. A bystander call — a tone fed in, a listener — ' +
      'runs in a worker thread of its own and records when each listener message arrives. **API flood**: 50 ' +
      `requests in flight at once for ${r.floodS} s, \`GET /v1/calls/{id}\` with a valid API key, the rate limit ` +
      'raised so that every one is answered (real work: a database read), from a thread of its own. **Stalled ' +
      'listeners**: a `ws` client on the same call stops reading (its socket paused: the kernel fills up as for a ' +
      "frozen program), then another reads at half the stream's rate; each is timed from the stall until the " +
      'server counts only the bystander again, and reads its close code once it reads again (SPEC §3: 1008 ' +
      '`listener too slow` after ~200 ms of backlog and 5 s of drops).',
    '',
    '| Mode | Flood: answered 200 (req/s) | Flood: longest gap (ms) | Stopped reading: closed after (code) | Half speed: closed after (code) | Meanwhile: longest gap (ms) |',
    '|---|---|---|---|---|---|',
  );
  for (const x of r.modes)
    md.push(
      `| ${x.label} | ${f0(x.flood.okPerS)} | ${f0(x.flood.bystander.maxGapMs)} | ${closedText(x.stalled.stopped)} | ` +
        `${closedText(x.stalled.halfSpeed)} | ${f0(x.stalled.bystander.maxGapMs)} |`,
    );
  md.push('');
  return md;
}

/** docs/benchmarks.md with the part added. */
export function addToReport(text, part) {
  return addPartToReport(text, realtimeIsolationRows(part), realtimeIsolationMarkdown(part));
}
