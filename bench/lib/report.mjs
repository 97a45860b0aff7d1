/** Turns the measurements of bench/run.mjs into figures, a console table and docs/benchmarks.md. */
import { max, median, min, percentile, sum } from './stats.mjs';

/** CPU % of one core per 1,000 listener streams of 50 messages/s, from CPU % and messages/s. */
const perThousandStreams = (cpuPct, messagesPerS) => (cpuPct / messagesPerS) * 50_000;

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const verdict = (ok) => (ok === undefined ? '' : ok ? 'PASS' : 'MISS');
/** A ratio of two noisy differences means nothing unless both were clearly positive. */
const ratioVerdict = (ratio, target) => (ratio > 0 ? verdict(ratio <= target) : 'n/a (noise)');

export function summarize(results, T) {
  const { repeats, idle, ceiling, facts } = results;
  const listeners = facts.cfg.calls * facts.cfg.perCall;
  const baseListeners = facts.cfg.calls;
  const scenario = repeats.map((r) => r.scenario);
  const full = repeats.map((r) => r.full);
  const base = repeats.map((r) => r.base);
  // Marginal CPU per added listener stream, the same way for all three: (full − base) / Δ messages.
  const marginal = (full, base) =>
    perThousandStreams(full.serverCpu - base.serverCpu, full.messagesPerS - base.messagesPerS);
  const marginalSys = (full, base) =>
    perThousandStreams(full.serverSysCpu - base.serverSysCpu, full.messagesPerS - base.messagesPerS);
  const fan = repeats.map((r) => {
    const earshot = marginal(r.full, r.base);
    const naive = marginal(r.naive, r.naiveBase);
    const floor = marginal(r.floor, r.floorBase);
    return {
      earshot,
      naive,
      floor,
      vsNaive: earshot / naive,
      vsFloor: earshot / floor,
      earshotSys: marginalSys(r.full, r.base),
      naiveSys: marginalSys(r.naive, r.naiveBase),
      floorSys: marginalSys(r.floor, r.floorBase),
      naiveAbs: perThousandStreams(r.naive.serverCpu, r.naive.messagesPerS),
      floorAbs: perThousandStreams(r.floor.serverCpu, r.floor.messagesPerS),
      saturated: r.full.serverCpu > 90 || r.full.skippedTicks > 0 || r.full.dropped > 0,
    };
  });
  const latencies = scenario.flatMap((m) => m.probe?.latencies ?? []);
  const probeRates = scenario.flatMap((m) =>
    m.probe ? m.probe.perProbe.map((n) => n / m.probe.durationS) : [],
  );
  const c0 = ceilingSummary(ceiling, T);
  const c1 = results.ceilingWorkers?.steps ? ceilingSummary(results.ceilingWorkers.steps, T) : null;
  const heapScenario = median(scenario.map((m) => m.heapMinMb));
  const s = {
    listeners,
    baseListeners,
    serverCpu: median(scenario.map((m) => m.serverCpu)),
    baseCpu: median(base.map((m) => m.serverCpu)),
    fullCpu: median(full.map((m) => m.serverCpu)),
    idleCpu: idle.serverCpu,
    generatorCpu: median(scenario.map((m) => m.generatorCpu)),
    othersCpu: median(repeats.flatMap((r) => Object.values(r).map((m) => m.othersCpu))),
    othersCpuMax: max(repeats.flatMap((r) => Object.values(r).map((m) => m.othersCpu))),
    rssMb: median(scenario.map((m) => m.rssMb)),
    idleRssMb: idle.rssMb,
    heapIdleMb: idle.heapMinMb,
    heapPerListenerKb: ((heapScenario - idle.heapMinMb) * 1024) / listeners,
    heapPerExtraListenerKb:
      ((median(full.map((m) => m.heapMinMb)) - median(base.map((m) => m.heapMinMb))) * 1024) /
      (listeners - baseListeners),
    dropped: sum(scenario.map((m) => m.dropped)),
    skippedTicks: sum(scenario.map((m) => m.skippedTicks)),
    unexpectedCloses: sum(scenario.map((m) => m.unexpectedCloses)),
    lagP99Ms: median(scenario.map((m) => m.lagP99Ms)),
    lagP99MaxMs: max(scenario.map((m) => m.lagP99MaxMs)),
    tickP99Ms: max(scenario.map((m) => m.tickP99Ms)),
    messagesPerS: median(scenario.map((m) => m.messagesPerS)),
    probeMin: min(probeRates),
    probeMedian: median(probeRates),
    cheapMsgPerS: median(scenario.map((m) => m.cheapMsgPerS)),
    jitterLate: sum(scenario.map((m) => m.jitter?.framesLate ?? 0)),
    jitterLost: sum(scenario.map((m) => m.jitter?.framesLost ?? 0)),
    jitterIn: max(scenario.map((m) => m.jitter?.framesIn ?? 0)),
    latencyN: latencies.length,
    latencyMissed: sum(scenario.map((m) => m.probe?.missed ?? 0)),
    latencyP50: percentile(latencies, 50),
    latencyP99Delivered: percentile(latencies, 99),
    // A lost marker (its frame never reached the listener) counts as infinitely late.
    latencyP99: percentile(
      [...latencies, ...Array(sum(scenario.map((m) => m.probe?.missed ?? 0))).fill(Number.POSITIVE_INFINITY)],
      99,
    ),
    latencyMax: max(latencies),
    fan,
    fanEarshot: median(fan.map((x) => x.earshot)),
    fanNaive: median(fan.map((x) => x.naive)),
    fanFloor: median(fan.map((x) => x.floor)),
    fanEarshotSys: median(fan.map((x) => x.earshotSys)),
    fanNaiveSys: median(fan.map((x) => x.naiveSys)),
    fanFloorSys: median(fan.map((x) => x.floorSys)),
    fanNaiveAbs: median(fan.map((x) => x.naiveAbs)),
    fanFloorAbs: median(fan.map((x) => x.floorAbs)),
    saturatedRepeats: fan.filter((x) => x.saturated).length,
    vsNaive: median(fan.map((x) => x.vsNaive)),
    vsFloor: median(fan.map((x) => x.vsFloor)),
    ceilingInProcess: c0,
    ceilingWorkers: c1,
    ceilingWorkersCount: results.ceilingWorkers?.workers,
    ceilingWorkersError: results.ceilingWorkers?.error,
    errors: [],
  };
  if (!(s.probeMedian > 0)) s.errors.push('probe listeners received nothing');
  if (!(s.messagesPerS > 0)) s.errors.push('earshot sent no listener messages');
  if (repeats.some((r) => !(r.naive.messagesPerS > 0) || !(r.floor.messagesPerS > 0))) {
    s.errors.push('a baseline sent no messages');
  }
  return s;
}

function stopReason(step, T) {
  const why = [];
  if (step.connectError) why.push(`connect failed (${step.connectError})`);
  if (step.dropped > 0) why.push(`${step.dropped} frames dropped`);
  if (step.skippedTicks > 0) why.push(`${step.skippedTicks} ticks skipped`);
  if (step.unexpectedCloses > 0) why.push(`${step.unexpectedCloses} listeners closed`);
  if (step.lagP99Ms > T.lagP99Ms) why.push(`lag p99 ${f1(step.lagP99Ms)} ms`);
  if (step.delivered < 0.99) why.push(`${f1(100 * step.delivered)} % of messages delivered`);
  return `${step.listeners}: ${why.join(', ')}`;
}

/** [figure, measured, target, verdict] rows. */
function rows(s, T) {
  return [
    ['Server CPU, Scenario A (% of one core)', f1(s.serverCpu), '', ''],
    [`  … ingest only (0 listeners)`, f1(s.idleCpu), '', ''],
    [
      `  … ingest paused, ${s.baseListeners} / ${s.listeners} listeners`,
      `${f1(s.baseCpu)} / ${f1(s.fullCpu)}`,
      '',
      '',
    ],
    ['Server RSS, Scenario A (MB)', `${f0(s.rssMb)} (idle ${f0(s.idleRssMb)})`, '', ''],
    [
      'Heap per listener, (A − ingest only)/listeners (KB)',
      `${f1(s.heapPerListenerKb)} (marginal ${f1(s.heapPerExtraListenerKb)})`,
      '',
      '',
    ],
    [
      'Frames dropped, healthy listeners',
      `${s.dropped} (skipped ticks ${s.skippedTicks})`,
      '0',
      verdict(s.dropped === 0 && s.skippedTicks === 0),
    ],
    [
      'Event-loop lag p99 (ms over the 10 ms sampling)',
      `${f1(s.lagP99Ms)} (worst ${f1(s.lagP99MaxMs)})`,
      `≤ ${T.lagP99Ms}`,
      verdict(s.lagP99Ms <= T.lagP99Ms),
    ],
    ['Mix + fan-out tick p99 (ms, bucket bound)', `≤ ${f2(s.tickP99Ms)}`, '', ''],
    [
      'Messages per probe listener (msg/s, min / median)',
      `${f1(s.probeMin)} / ${f1(s.probeMedian)}`,
      '50',
      verdict(s.probeMin >= 49),
    ],
    [
      'Jitter buffers of the probe calls: frames late / lost (of frames in)',
      `${s.jitterLate} / ${s.jitterLost} (${s.jitterIn})`,
      '',
      '',
    ],
    ['Messages per cheap listener (msg/s)', f1(s.cheapMsgPerS), '50', verdict(s.cheapMsgPerS >= 49)],
    [
      `Added latency p50 (ms, n=${s.latencyN}, missed ${s.latencyMissed})`,
      f1(s.latencyP50),
      `≤ ${T.latencyP50Ms}`,
      verdict(s.latencyP50 <= T.latencyP50Ms),
    ],
    [
      `Added latency p99, lost markers counted as late (ms; delivered only: p99 ${f1(s.latencyP99Delivered)}, max ${f1(s.latencyMax)})`,
      s.latencyP99 === Number.POSITIVE_INFINITY
        ? `lost (${f1((100 * s.latencyMissed) / (s.latencyN + s.latencyMissed))} % of markers)`
        : f1(s.latencyP99),
      `≤ ${T.latencyP99Ms}`,
      verdict(s.latencyP99 <= T.latencyP99Ms),
    ],
    [
      `Fan-out CPU per 1,000 added streams: earshot${s.saturatedRepeats ? ` (CPU-bound in ${s.saturatedRepeats} of ${s.fan.length} repeats)` : ''}`,
      `${f1(s.fanEarshot)} (kernel ${f1(s.fanEarshotSys)})`,
      '',
      '',
    ],
    [
      '  … naive: ws.send per listener (kernel; absolute per 1,000)',
      `${f1(s.fanNaive)} (kernel ${f1(s.fanNaiveSys)}; abs. ${f1(s.fanNaiveAbs)})`,
      '',
      '',
    ],
    [
      '  … floor: one buffer, socket.write (kernel; absolute per 1,000)',
      `${f1(s.fanFloor)} (kernel ${f1(s.fanFloorSys)}; abs. ${f1(s.fanFloorAbs)})`,
      '',
      '',
    ],
    [
      'earshot / naive (median of per-repeat ratios)',
      f2(s.vsNaive),
      `≤ ${T.vsNaive}`,
      ratioVerdict(s.vsNaive, T.vsNaive),
    ],
    [
      'earshot / floor (median of per-repeat ratios)',
      f2(s.vsFloor),
      `≤ ${T.vsFloor}`,
      ratioVerdict(s.vsFloor, T.vsFloor),
    ],
    ...ceilingRows('listeners in the main process (EARSHOT_FANOUT_WORKERS=0)', s.ceilingInProcess, T),
    ...(s.ceilingWorkers
      ? ceilingRows(
          `with ${s.ceilingWorkersCount} fan-out worker(s) (EARSHOT_FANOUT_WORKERS=${s.ceilingWorkersCount})`,
          s.ceilingWorkers,
          T,
        )
      : s.ceilingWorkersError
        ? [['Ceiling with fan-out workers', s.ceilingWorkersError, '', '']]
        : []),
    ['Load generators CPU, Scenario A (% of one core)', f1(s.generatorCpu), '', ''],
    [
      'Other processes on the machine (% of one core, median / worst window)',
      `${f0(s.othersCpu)} / ${f0(s.othersCpuMax)}`,
      '',
      '',
    ],
  ];
}

export function renderTable(results, T) {
  const s = summarize(results, T);
  const r = [['Figure', 'Measured', 'Target', ''], ...rows(s, T)];
  const w = [0, 1, 2, 3].map((i) => Math.max(...r.map((row) => row[i].length)));
  const line = (row) =>
    row
      .map((c, i) => c.padEnd(w[i]))
      .join('  ')
      .trimEnd();
  const out = [line(r[0]), w.map((n) => '-'.repeat(n)).join('  '), ...r.slice(1).map(line)];
  out.push('', `Ceiling stopped at: ${s.ceilingInProcess.stop}`);
  if (s.ceilingWorkers) out.push(`Ceiling with fan-out workers stopped at: ${s.ceilingWorkers.stop}`);
  return { table: out.join('\n'), summary: s };
}

/** How the server under test wrote listener messages (EARSHOT_DIRECT_WRITES, docs/architecture.md). */
function directWritesNote(dw) {
  if (!dw) return '';
  const how = dw.active
    ? 'through the native direct-write addon (one `send()` per socket in C per message)'
    : 'through each socket (`socket.write`; the native addon off or not built)';
  return `The server ran with \`EARSHOT_DIRECT_WRITES=${dw.mode}\`: listener messages went ${how}.`;
}

export function renderMarkdown(results, T) {
  const s = summarize(results, T);
  const { facts } = results;
  const c = facts.cfg;
  const md = [];
  md.push('# Benchmarks', '');
  md.push(
    `_Written by \`npm run bench\` on ${facts.date.slice(0, 19).replace('T', ' ')} UTC (commit ${facts.commit}); rerun it rather than editing by hand._`,
    '',
  );
  md.push(
    `**Machine:** ${facts.nproc} cores (\`nproc\`), ${facts.cpu}, ${facts.memGb.toFixed(0)} GB RAM, ${facts.kernel}, ` +
      `Node ${facts.node}, open-file limit ${facts.openFiles}. The load generators run on the same ${facts.nproc} cores ` +
      'as the server (loopback only), so every figure below is the server sharing the machine with its clients. ' +
      `Speed check (CPU time to resample one 20 ms frame 8 → 16 kHz, measured in the orchestrator): ` +
      `${f2(facts.calibrationUs)} µs at the start, ${f2(facts.calibrationEndUs)} µs at the end — the shared host's speed ` +
      'varies between runs by ±20 %, and so do the CPU figures.',
    '',
  );
  md.push('## Method', '');
  md.push(
    `- **Processes.** \`bench/run.mjs\` spawns the server under test (\`node bin/earshot.js serve\`, SQLite, log level warn), ` +
      "a bulk load generator and a probe generator (each its own process), and the two baseline servers. The server's CPU " +
      'is read from `/proc/<pid>/stat` (utime + stime, all threads, with its child processes: fan-out workers) and its RSS from `/proc/<pid>/status` (the same processes); heap, event-loop ' +
      'lag, frames out / dropped and the tick-duration histogram from its `/metrics`. ' +
      directWritesNote(facts.directWrites),
    `- **Scenario A.** ${c.calls} calls × 2 participants ingesting μ-law 8 kHz in 20 ms messages, deadline-paced and spread ` +
      `over the 20 ms period; ${c.perCall} listeners per call (${s.listeners}). ${c.probes} of them are probe listeners (\`ws\` ` +
      'library, every message parsed); the rest are raw TCP sockets that do the client handshake themselves and then only count ' +
      'bytes, reading in 100 ms batches (the server still writes every message to the kernel as it would for any client; ' +
      '3.2 KB of backlog per socket never reaches its 200 ms drop threshold). All sockets send an unsolicited pong every 10 s.',
    `- **Windows.** ${c.warmupS} s warm-up, then ${c.windowS} s measured; each measurement repeated ${c.repeats}× and the ` +
      "median reported (the machine is shared). The event-loop lag is prom-client's p99 per 2 s scrape interval minus the " +
      '10 ms sampling period, median over the window.',
    '- **Latency.** In each probe call one participant sends silence and, every 500 ms, one 20 ms message of a near-full-scale ' +
      'tone (700, 1300, 2100, 2900 Hz in turn, so that consecutive markers are told apart); the probe listener of that call ' +
      'timestamps the first message whose peak crosses −12 dBFS and matches it by frequency. Latency = arrival − send, both ' +
      '`performance.now()` of the probe process; a marker that never arrives counts as lost (infinitely late in the p99). ' +
      'Measured during the Scenario A windows.',
    `- **Fan-out CPU.** For each server, CPU with ${s.listeners} listeners minus CPU with ${s.baseListeners} (one per call), ` +
      "divided by the added messages/s and scaled to 1,000 listener streams of 50 msg/s — so fixed costs (earshot's mixing " +
      "and framing; the baselines' timers) cancel out. earshot's pair is measured right after each Scenario A window with " +
      'the ingest paused: every call is still mixed and sent (silence) at 50 msg/s, but the server is not CPU-bound, which it ' +
      'is in Scenario A on this machine (there a difference of CPU figures would hit the 100 % ceiling, not measure fan-out). ' +
      'Baselines in the same run, same listeners, same ' +
      `${c.calls}-call fan-out of 640-byte messages at 50/s, no ingest: **naive** = \`ws\` library, \`ws.send(payload)\` per ` +
      'listener on a `setInterval(…, 20)`; **floor** = hand-written handshake, one pre-framed Buffer per call per tick written ' +
      'with `socket.write` to each socket. earshot is quiet (no ingest, no listeners) while they run.',
    `- **Ceiling.** With Scenario A's ingest, listeners are added over the same calls in steps (${c.ceiling.join(', ')}), ` +
      `${c.stepSettleS} s settle + ${c.stepWindowS} s window each. A step is *served* when no frame is dropped, no tick skipped, ` +
      'no listener lost and ≥ 99 % of the expected messages are written; it *passes* when, in addition, the event-loop lag ' +
      `p99 is ≤ ${T.lagP99Ms} ms. Stepping stops at the first step not served. The steps run twice: against the server ` +
      'above (listeners in its one event loop), then against a fresh server with fan-out workers ' +
      '(`EARSHOT_FANOUT_WORKERS` = cores − 1), which own the listener sockets in their own processes.',
    '',
  );
  md.push('## Results', '');
  md.push('| Figure | Measured | Target | |', '|---|---|---|---|');
  for (const [a, b, t, v] of rows(s, T)) md.push(`| ${a.trim()} | ${b} | ${t} | ${v ? `**${v}**` : ''} |`);
  md.push('');
  md.push('### Fan-out CPU per repeat (% of one core per 1,000 added listener streams of 50 msg/s)', '');
  md.push(
    '| Repeat | earshot | naive | floor | earshot / naive | earshot / floor | earshot saturated |',
    '|---|---|---|---|---|---|---|',
  );
  s.fan.forEach((x, i) => {
    md.push(
      `| ${i + 1} | ${f1(x.earshot)} | ${f1(x.naive)} | ${f1(x.floor)} | ${f2(x.vsNaive)} | ${f2(x.vsFloor)} | ${x.saturated ? 'yes' : 'no'} |`,
    );
  });
  md.push('');
  md.push('### Windows', '');
  md.push(
    '| Window | Listeners | Server CPU % | Generators CPU % | Others CPU % | Messages/s | RSS MB | Heap MB (min) | Lag p99 ms | Dropped |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  const win = (name, n, m) =>
    md.push(
      `| ${name} | ${n} | ${f1(m.serverCpu)} | ${f1(m.generatorCpu)} | ${f0(m.othersCpu)}${m.attempts > 1 ? ` (try ${m.attempts})` : ''} | ${f0(m.messagesPerS)} | ${f0(m.rssMb)} | ${f1(m.heapMinMb)} | ${f1(m.lagP99Ms)} | ${m.dropped} |`,
    );
  win('earshot, ingest only', 0, results.idle);
  results.repeats.forEach((r, i) => {
    win(`#${i + 1} earshot Scenario A`, s.listeners, r.scenario);
    win(`#${i + 1} earshot, ingest paused`, s.listeners, r.full);
    win(`#${i + 1} earshot, ingest paused`, s.baseListeners, r.base);
    win(`#${i + 1} naive`, s.baseListeners, r.naiveBase);
    win(`#${i + 1} naive`, s.listeners, r.naive);
    win(`#${i + 1} floor`, s.baseListeners, r.floorBase);
    win(`#${i + 1} floor`, s.listeners, r.floor);
  });
  md.push('');
  md.push('### Ceiling steps: listeners in the main process', '');
  ceilingTable(md, results.ceiling);
  md.push('', `First step short of the ceiling criteria: ${s.ceilingInProcess.stop}.`, '');
  if (s.ceilingWorkers) {
    md.push(
      `### Ceiling steps: ${s.ceilingWorkersCount} fan-out worker(s) (EARSHOT_FANOUT_WORKERS=${s.ceilingWorkersCount})`,
      '',
    );
    md.push(
      'The same steps against a server started with fan-out workers (a separate server, calls and ingest, after the ' +
        'first one has stopped); server CPU is that of the main process and its workers together. "Ticks per write" is ' +
        "the main process's, which here writes only to its workers; each worker coalesces on its own load.",
      '',
    );
    ceilingTable(md, results.ceilingWorkers.steps);
    md.push('', `First step short of the ceiling criteria: ${s.ceilingWorkers.stop}.`, '');
  }
  md.push("## Where Scenario A's CPU goes (from this run's windows)", '');
  const rooms = s.baseCpu - (s.fanEarshot * s.baseListeners) / 1000;
  const needed = s.idleCpu + rooms + (s.fanEarshot * s.listeners) / 1000;
  md.push(
    `- ingest of ${c.calls * 2} participants (μ-law 8 kHz → 16 kHz, no listener): **${f1(s.idleCpu)} %** of a core;`,
    `- mixing, encoding and framing ${c.calls} calls (ingest paused, fan-out subtracted): **${f1(rooms)} %**;`,
    `- fan-out to ${s.listeners} listeners: **${f1((s.fanEarshot * s.listeners) / 1000)} %** (of which kernel ` +
      `${f1((s.fanEarshotSys * s.listeners) / 1000)} %; the floor needs ${f1((s.fanFloor * s.listeners) / 1000)} %).`,
    '',
    `Sum ≈ **${f0(needed)} %** of one core; measured in Scenario A: ${f1(s.serverCpu)} % ` +
      `(one event loop cannot use more than one core${needed > 90 ? ': the server is CPU-bound, hence the lag and latency figures' : ''}).`,
    '',
  );
  md.push('## What dominates (CPU profile)', '');
  md.push(
    'Profiled with `npm run bench -- --profile --repeats=1 --ceiling=none` and `node bench/profile-summary.mjs <file>` ' +
      "(2026-11-24; rerun to refresh). In Scenario A the server's time goes, in this order, to:",
    '',
    "1. **Sending listener messages**: the kernel's loopback TCP path is ~70–80 % of the per-listener cost for earshot " +
      'and both baselines alike (the "kernel" figures above). On top of it, Node\'s own route — `socket.write`, the stream ' +
      'state, one JavaScript → C++ crossing and libuv per socket — costs ~1–2 µs per message, and `ws.send` a little more; ' +
      'the baselines pay that per listener. earshot pays it once per message: listeners whose sockets have nothing queued ' +
      'get the message from the direct-write addon (`native/direct_write.c`), one non-blocking `send()` per socket in a C ' +
      'loop. In isolation (`npm run bench:write-paths`: 1,000 loopback sockets, CPU per socket per 644-byte message, ' +
      "medians of one run on this VM): `ws.send` 7.3 µs, `socket.write` 5.5 µs, the addon 4.2 µs, and earshot's whole " +
      'listener path around the addon (closed and backlog checks) 4.7 µs; with three ticks held and written at once, ' +
      "2.2 µs through cork and `writev`, 1.6 µs through earshot's listeners and the addon. That is how earshot goes " +
      "below the floor, which writes through Node's streams.",
    '2. **The ingest resampler** (8 → 16 kHz, `src/audio/resampler.ts`): it was ~9 µs of CPU per 20 ms frame with the ' +
      'general polyphase FIR (22 taps × 2 phases × 160 samples), about half of the ingest figure at 20,000 frames/s. It is ' +
      'now a half-band interpolator — every other output is an input sample passed through, the rest a 28-tap symmetric ' +
      'FIR folded into 14 multiplies — with the same passband and −62 dB images: 2.8 instead of 7.5 µs per frame ' +
      'measured in isolation on the same machine (the speed check above times it).',
    '3. Reading ingest sockets (libuv + `ws` frame parsing): a few % each; μ-law decoding, jitter buffers, the mix, ' +
      'PCM16 encoding and framing are ≤ 1–3 % each.',
    '',
    'Per listener message, what is left in JavaScript is a backlog check and one entry in the batch; the rest is the ' +
      "kernel's. What moves the ceiling is fewer system calls per core and more cores: when the server is short of CPU " +
      'and the clock runs catch-up ticks back to back, each listener holds the burst and gets it in one system call ' +
      '(`TickWriter`, `src/live/write-coalescing.ts`: one `send()` of a buffer shared by the output group through the ' +
      'addon, or one `writev`), and under sustained load up to 3 ticks go out per write ' +
      '(`EARSHOT_WRITE_COALESCING`), so the cost per message falls as load rises. Beyond one core, fan-out workers ' +
      '(`EARSHOT_FANOUT_WORKERS`) own the listener sockets in other processes and write what the main process mixes ' +
      '(second ceiling table).',
    '',
  );
  md.push('## Experiment, not applied: a clock that polls I/O between catch-up ticks', '');
  md.push(
    'On this machine Scenario A keeps the server at 90–100 % of a core, and the jitter buffers count many frames *late* ' +
      '(see the row above): after a stall `Clock` runs the missed ticks back to back, so the ingest frames that arrived ' +
      'meanwhile stay unread in socket buffers while the ticks pull from the jitter buffers, and are discarded as late once ' +
      'read. Scheduling each catch-up tick with `setImmediate` (one I/O poll in between; same catch-up limit and skip rule) ' +
      'was measured with the same ingest, 12–14 s windows, builds alternating on the same machine (`--server-dist`), ' +
      'frames late over 40 calls:',
    '',
    '| Listeners | back to back (current) | I/O poll between catch-up ticks |',
    '|---|---|---|',
    '| 600 | median 4.9 % (10 runs, 1.4–14 %), 0 skipped ticks | median 0.55 % (9 runs, 0.06–1.7 %), 0–46 skipped per window |',
    '| 1,000 | median 10.3 % (13 runs, 5–22 %), 0–24 skipped | median 0.44 % (11 runs, 0.2–1.5 %), 3–124 skipped per window |',
    '',
    'Below saturation it is a clear win (one bench run at 93 % CPU passed every Scenario A target: latency p50 14 ms, p99 ' +
      '36 ms, 1.4 % late, where the current clock lost 3.7 % of the markers). But once the server is CPU-bound it skips many ' +
      'more ticks (up to 25 % of messages) and latency grows to the jitter-buffer cap: reading sockets promptly removes the ' +
      'read batching that makes the back-to-back mode cheaper under overload. A variant yielding only for the first three ' +
      'catch-up ticks kept the skips low but also most of the late frames (3.8–6.7 %). Overload costs either cadence or ' +
      'audio; which to prefer is a product decision, so the clock is unchanged.',
    '',
  );
  md.push('## Cluster: what a NATS hop adds', '');
  const cl = results.cluster ?? { skipped: 'not run' };
  md.push(
    'Run last by `npm run bench` (alone: `npm run bench:cluster`), after everything above has stopped: a throwaway ' +
      '`nats-server` and two `earshot serve` processes (node A, node B) on loopback. Latency: one call ingested on node A in ' +
      'real time, a marker every 160 ms, heard by a listener on node A and one on node B in the same run. Throughput: 10 calls ' +
      '× 2 participants, 1000 byte-counting listeners on node B, ingest first on node B itself (baseline), then on node A.',
    '',
    cl.markdown?.replace(/^### .*\n+/, '') ?? `_${cl.error ?? cl.skipped}_`,
    '',
  );
  md.push('## Notes', '');
  md.push(
    `- The clients are on the same ${facts.nproc} cores: at the higher ceiling steps the generators' CPU (column above) is ` +
      'taken from the server, so the ceiling is that of this machine with its clients, not of the server alone.',
    '- The fan-out ratio compares marginal CPU per listener stream; earshot additionally pays, per call and tick, for the ' +
      'jitter buffers, the mix, encoding and framing — the "mixing, encoding and framing" figure above, independent of the listener count.',
    `- "Others" is the CPU the rest of the machine used during a window (\`/proc/stat\` minus the bench's processes). A window ` +
      'in which it exceeded 20 % of a core was measured again (up to 3 tries, within a 60 s budget); the machine is shared, so ' +
      `read figures from disturbed windows with care. Other processes used ${f0(facts.busyAtStart)} % of a core when the run started.`,
    "- CPU time is sampled at the kernel's clock-tick resolution; heap is the smallest `heap_size_used` sample of a window " +
      '(after a scavenge); heap per listener is good to ± a few KB.',
    '',
  );
  return md.join('\n');
}

function ceilingSummary(steps, T) {
  const passed = steps.filter((st) => st.pass);
  const failed = steps.find((st) => !st.pass);
  return {
    ceiling: passed.length ? max(passed.map((p) => p.listeners)) : 0,
    topTried: max(steps.map((p) => p.listeners)),
    firstStep: steps[0]?.listeners ?? 0,
    servedMax: max(steps.filter((p) => p.served).map((p) => p.listeners)),
    stop: failed ? stopReason(failed, T) : 'none (highest step passed)',
  };
}

function ceilingRows(label, c, T) {
  return [
    [
      `Ceiling, ${label}: listeners with 0 drops and lag p99 ≤ ${T.lagP99Ms} ms`,
      c.ceiling > 0 ? String(c.ceiling) : `< ${c.firstStep}`,
      `≥ ${T.ceiling}`,
      verdict(c.ceiling >= T.ceiling),
    ],
    [
      `  … highest step served with 0 drops, lag ignored (tried up to ${c.topTried})`,
      f0(c.servedMax),
      '',
      '',
    ],
  ];
}

function ceilingTable(md, steps) {
  md.push(
    '| Listeners | Server CPU % | Generators CPU % | Others CPU % | Delivered | Lag p99 ms | Tick p99 ms | Latency p50 / p99 ms (lost) | Ticks per write | Dropped | Skipped ticks | |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const st of steps) {
    const lat = st.probe?.latencies ?? [];
    const q = (p) => (lat.length ? f1(percentile(lat, p)) : 'n/a');
    md.push(
      `| ${st.listeners} | ${f1(st.serverCpu)} | ${f1(st.generatorCpu)} | ${f0(st.othersCpu)} | ${f1(100 * st.delivered)} % | ${f1(st.lagP99Ms)} | ≤ ${f2(st.tickP99Ms)} | ${q(50)} / ${q(99)} (${st.probe?.missed ?? 0}) | ${Number.isFinite(st.coalescing) ? st.coalescing : 'n/a'} | ${st.dropped} | ${st.skippedTicks} | ${st.pass ? 'ok' : st.served ? 'served, lag high' : 'stop'} |`,
    );
  }
}
