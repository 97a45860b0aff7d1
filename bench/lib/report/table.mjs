/** The figures as [figure, measured, target, verdict] rows, and the console table printed at the end of a run. */
import { f0, f1, f2, ratioVerdict, verdict } from './format.mjs';
import { partTable } from './part.mjs';
import { summarize } from './summary.mjs';

/** [figure, measured, target, verdict] rows. */
export function rows(s, T) {
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
      'Jitter buffers of the probe calls: frames late / lost (of frames in); delay they add, median (ms)',
      `${s.jitterLate} / ${s.jitterLost} (${s.jitterIn}); ${f0(s.probeBufferMs)}`,
      '',
      '',
    ],
    [
      'Frames concealed in the probe calls (lost slots, % of frames in; server CPU %)',
      `${f2((100 * s.jitterLost) / s.jitterIn)} % (${f1(s.serverCpu)} %)`,
      `≤ ${T.concealedPct} % at ≤ ${T.concealedAtCpuPct} %`,
      verdict((100 * s.jitterLost) / s.jitterIn <= T.concealedPct && s.serverCpu <= T.concealedAtCpuPct),
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
    ...ceilingRows('listeners in the main process (EARSHOT_MEDIA_WORKERS=0)', s.ceilingInProcess, T),
    ...(s.ceilingWorkers
      ? ceilingRows(
          `with ${s.ceilingWorkersCount} media worker(s) (EARSHOT_MEDIA_WORKERS=${s.ceilingWorkersCount})`,
          s.ceilingWorkers,
          T,
        )
      : s.ceilingWorkersError
        ? [['Ceiling with media workers', s.ceilingWorkersError, '', '']]
        : []),
    ...stormRows(s.storm, T),
    ...capacityRows(s.capacity, T),
    ['Load generators CPU, Scenario A (% of one core)', f1(s.generatorCpu), '', ''],
    [
      'Other processes on the machine (% of one core, median / worst window)',
      `${f0(s.othersCpu)} / ${f0(s.othersCpuMax)}`,
      '',
      '',
    ],
  ];
}

function capacityRows(capacity, T) {
  const r = capacity.result;
  if (!r) return [['Capacity', capacity.error ?? capacity.skipped, '', '']];
  const one = r.runs.find((x) => x.workers === 1)?.capacity ?? 0;
  return r.runs.map((run) => {
    const label =
      run.workers === 0
        ? 'Capacity, one process (EARSHOT_MEDIA_WORKERS=0): two-party μ-law calls with 0 frames concealed'
        : `Capacity, ${run.workers} media worker(s): two-party μ-law calls with 0 frames concealed`;
    if (run.workers <= 1) return [label, String(run.capacity), '', ''];
    const target = Math.ceil(T.capacityScaling * run.workers * one);
    return [label, String(run.capacity), `≥ ${target}`, verdict(run.capacity >= target)];
  });
}

function stormRows(storm, T) {
  const r = storm.result;
  if (!r) return [['Connection storm', storm.error ?? storm.skipped, '', '']];
  return [
    [
      `Storm: ${r.listeners} listeners at once over ${r.calls} live calls (${r.mediaWorkers} media worker(s), ${r.listenerProcs} client process(es)): all admitted within (s)`,
      r.allAdmittedS === null ? `${r.failed} never admitted (${r.firstError})` : f1(r.allAdmittedS),
      `≤ ${T.stormAdmitS}`,
      verdict(r.allAdmittedS !== null && r.allAdmittedS <= T.stormAdmitS),
    ],
    [
      `  … then at ≥ 90 % of the stream rate over ${r.windowS} s / closed by the server`,
      `${r.fullRate} / ${r.closed}`,
      `${r.listeners} / 0`,
      verdict(r.fullRate === r.listeners && r.closed === 0),
    ],
  ];
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

/** The console table and the summary it was made from (its `errors` decide the exit code). */
export function renderTable(results, T) {
  const s = summarize(results, T);
  const out = [partTable(rows(s, T)), '', `Ceiling stopped at: ${s.ceilingInProcess.stop}`];
  if (s.ceilingWorkers) out.push(`Ceiling with media workers stopped at: ${s.ceilingWorkers.stop}`);
  return { table: out.join('\n'), summary: s };
}
