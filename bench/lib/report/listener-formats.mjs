/**
 * Listener formats (bench/listener-formats.mjs) in bench/run.mjs's report: rows for the results
 * table, the section of docs/benchmarks.md, the console table.
 */
import { f0, f1, f2, verdict } from './format.mjs';
import { addPartToReport, partTable } from './part.mjs';

/** What Opus should cut a listener's bytes to, against PCM16 (issue: "tenfold"). */
export const OPUS_BANDWIDTH_TARGET = 0.1;

const thousands = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');

/** [figure, measured, target, verdict] rows. */
export function listenerFormatRows(part) {
  const r = part.result;
  if (!r) return [['Listener formats: PCM16 against Opus', part.error ?? part.skipped, '', '']];
  const s = r.summary;
  const { pcm16, opus } = s.byFormat;
  const [few, many] = r.listenersPerCall;
  return [
    [
      'Listener bandwidth, bytes/s per listener on the wire: PCM16 16 kHz mono / Opus 16 kHz mono (Opus ÷ PCM16)',
      `${thousands(pcm16.bytesPerListenerS)} / ${thousands(opus.bytesPerListenerS)} (× ${f2(s.bandwidthRatio)})`,
      `≤ × ${f2(OPUS_BANDWIDTH_TARGET)}`,
      verdict(s.bandwidthRatio <= OPUS_BANDWIDTH_TARGET),
    ],
    [
      `Server CPU per listener, µs per second of listening (${few} → ${many} per call): PCM16 / Opus (× PCM16)`,
      `${f0(pcm16.usPerListenerS)} / ${f0(opus.usPerListenerS)} (× ${f2(s.cpuPerListenerRatio)})`,
      '',
      '',
    ],
    [
      `Opus encoding per call, µs per 20 ms: server at ${few} / ${many} listeners per call; libopus alone (complexity ${r.encoder.complexity})`,
      `${f0(s.opusExtraUsPerCallTick[few])} / ${f0(s.opusExtraUsPerCallTick[many])}; ${f0(r.encoder['16k-mono'].usPerFrame)}`,
      '',
      '',
    ],
  ];
}

export const listenerFormatTable = (part) => partTable(listenerFormatRows(part));

/** The section of docs/benchmarks.md (lines). */
export function listenerFormatMarkdown(part) {
  const md = ['## Listener formats: PCM16 and Opus', ''];
  const r = part.result;
  if (!r) return [...md, `_${part.error ?? part.skipped}_`, ''];
  const s = r.summary;
  const { pcm16, opus } = s.byFormat;
  const [few, many] = r.listenersPerCall;
  const perCallCore = (us) => (us * 50) / 10_000; // µs per tick → % of a core per call
  md.push(
    'Run by `npm run bench` after the parts above (alone: `node bench/listener-formats.mjs`). One server ' +
      '(`EARSHOT_MEDIA_WORKERS=0`: one process, at most one core) holds ' +
      `${r.calls} two-party calls (generic μ-law ingest, two tones, from the bulk load generator). Then ${few} and ` +
      `then ${many} byte-counting listeners per call connect in one format — 16 kHz mono **PCM16** (the default) or ` +
      "16 kHz mono **Opus** (`encoding=opus`) — settle, and are measured for a window: the server's CPU (`/proc`) and " +
      'the bytes the listeners received (WebSocket frames as on the wire). The formats take turns, ' +
      `${r.rounds} windows of ${r.windowS} s each per format and step, the order reversed every other round; ` +
      'figures are medians.',
    '',
    '| | PCM16 16 kHz mono | Opus 16 kHz mono |',
    '|---|---|---|',
    `| bytes per second per listener | ${thousands(pcm16.bytesPerListenerS)} | ${thousands(opus.bytesPerListenerS)} (× ${f2(s.bandwidthRatio)}) |`,
    `| server CPU, ${few} listener per call (% of a core) | ${f1(pcm16.cpu[few])} | ${f1(opus.cpu[few])} |`,
    `| server CPU, ${many} listeners per call (% of a core) | ${f1(pcm16.cpu[many])} | ${f1(opus.cpu[many])} |`,
    `| CPU per listener, µs per second of listening | ${f0(pcm16.usPerListenerS)} | ${f0(opus.usPerListenerS)} (× ${f2(s.cpuPerListenerRatio)}) |`,
    '',
    `- **Per listener**, Opus costs × ${f2(s.bandwidthRatio)} of PCM16's bytes and × ${f2(s.cpuPerListenerRatio)} of ` +
      'its CPU (the marginal cost of one more listener: the difference between the two steps over the listeners ' +
      'added — one smaller write per message).',
    `- **Per call**, Opus adds its encoder: ${f0(s.opusExtraUsPerCallTick[few])} µs per 20 ms with ${few} listener ` +
      `per call and ${f0(s.opusExtraUsPerCallTick[many])} µs with ${many} (Opus's CPU less PCM16's at the same ` +
      'listeners, per call) — the same within noise, since a call encodes once per format whatever its listeners: ' +
      `about ${f2(perCallCore(s.opusExtraUsPerCallTick[few]))} % of a core per call. Where a call has few listeners ` +
      "Opus costs the server more CPU than PCM16 and saves the listeners' bandwidth; past about " +
      `${f0((s.opusExtraUsPerCallTick[few] * 50) / Math.max(1, pcm16.usPerListenerS - opus.usPerListenerS))} listeners ` +
      'per call it costs less CPU too.',
    `- **libopus alone** (the server's settings, on a speech-like 16 kHz signal — voiced harmonics, a syllable-rate ` +
      'envelope, noise), µs per 20 ms frame and bytes per second, by complexity (`EARSHOT_OPUS_COMPLEXITY`); the ' +
      'settings take turns over three passes of 10 s of signal, the median pass given:',
    '',
    '| encoder | µs per 20 ms | % of a core per call | bytes/s |',
    '|---|---|---|---|',
  );
  for (const [name, e] of Object.entries(r.encoder)) {
    if (typeof e !== 'object') continue;
    const label = `${e.rate / 1000} kHz mono, complexity ${e.complexity}${e.complexity === r.encoder.complexity ? ' (default)' : ''}`;
    md.push(
      `| ${label} | ${f0(e.usPerFrame)} | ${f2(perCallCore(e.usPerFrame))} | ${thousands(e.bytesPerS)} |`,
    );
    void name;
  }
  md.push('');
  return md;
}

export function addToReport(text, part) {
  return addPartToReport(text, listenerFormatRows(part), listenerFormatMarkdown(part));
}
