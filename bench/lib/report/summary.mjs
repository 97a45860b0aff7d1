/** The figures of a bench/run.mjs run, from its measured windows (medians over the repeats, ceilings). */
import { max, median, min, percentile, sum } from '../stats.mjs';
import { f1 } from './format.mjs';

/** CPU % of one core per 1,000 listener streams of 50 messages/s, from CPU % and messages/s. */
const perThousandStreams = (cpuPct, messagesPerS) => (cpuPct / messagesPerS) * 50_000;

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
    // Counters since the calls started, read after each window: the last read holds them all.
    jitterLate: max(scenario.map((m) => m.jitter?.framesLate ?? 0)),
    jitterLost: max(scenario.map((m) => m.jitter?.framesLost ?? 0)),
    jitterIn: max(scenario.map((m) => m.jitter?.framesIn ?? 0)),
    /** What the probe participants' jitter buffers added at the end of each window (ms): median. */
    probeBufferMs: median(scenario.flatMap((m) => m.jitter?.bufferMs ?? [])),
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
    storm: results.storm ?? { skipped: 'not run' },
    capacity: results.capacity ?? { skipped: 'not run' },
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

/** The ceiling of a list of steps: highest passed, highest served, why it stopped. */
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
