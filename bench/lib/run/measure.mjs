/**
 * One measured window of bench/run.mjs: CPU of the server (or a baseline) and both generators from
 * /proc, RSS, and for earshot the /metrics deltas (frames out, drops, tick duration) and samples
 * (heap, lag). Windows disturbed by other processes on the machine are measured again.
 */
import { cpuSplit, cpuWindow, machineBusy, rssBytes } from '../proc.mjs';
import { histogramQuantile, scrape, sumOf } from '../prom.mjs';
import { LISTEN_MESSAGE_BYTES } from '../signals.mjs';
import { median } from '../stats.mjs';
import { LAG_RESOLUTION_MS, OTHERS_MAX_CPU } from './config.mjs';
import { log } from './log.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Measures `windowS` seconds of steady state. `baseline`: a baseline server (a Child) instead of
 * earshot; `cheapListeners`: how many byte-counting listeners the load generator has open;
 * `probes`: whether the probe generator's latency markers are collected.
 */
async function measure({ server, baseline, lg1, lg2, windowS, cheapListeners, probes }) {
  const isEarshot = !baseline;
  const pid = isEarshot ? server.pid : baseline.pid;
  const m0 = isEarshot ? await scrape(server.base) : null;
  const logs0 = { ...server.logs };
  const b0 = baseline ? await baseline.call('stats') : null;
  const s0 = await lg1.call('stats');
  if (probes) await lg2.call('windowBegin');
  const cpu = cpuWindow([pid, lg1.pid, lg2.pid]);
  const split0 = cpuSplit(pid);
  const t0 = performance.now();
  const end = t0 + windowS * 1000;
  const heap = [];
  const lag = [];
  const rss = [];
  let mEnd = m0;
  const sampleMs = Math.min(2000, (windowS * 1000) / 2);
  while (performance.now() < end - 5) {
    await sleep(Math.max(0, Math.min(sampleMs, end - performance.now())));
    rss.push(rssBytes(pid));
    if (isEarshot) {
      mEnd = await scrape(server.base);
      heap.push(sumOf(mEnd, 'earshot_nodejs_heap_size_used_bytes'));
      lag.push(
        Math.max(0, sumOf(mEnd, 'earshot_nodejs_eventloop_lag_p99_seconds') * 1000 - LAG_RESOLUTION_MS),
      );
    }
  }
  const {
    processes: [serverCpu, lg1Cpu, lg2Cpu],
    others: othersCpu,
  } = cpu();
  const wallS = (performance.now() - t0) / 1000;
  const serverSysCpu = (100 * (cpuSplit(pid).system - split0.system)) / wallS;
  const s1 = await lg1.call('stats');
  const b1 = baseline ? await baseline.call('stats') : null;
  const probe = probes ? await lg2.call('windowEnd') : null;
  const delta = (name) => sumOf(mEnd, name) - sumOf(m0, name);
  const messagesOut = isEarshot ? delta('earshot_frames_out_total') : b1.messagesSent - b0.messagesSent;
  return {
    wallS,
    serverCpu,
    serverSysCpu,
    generatorCpu: lg1Cpu + lg2Cpu,
    othersCpu,
    rssMb: median(rss) / 2 ** 20,
    heapMinMb: isEarshot ? Math.min(...heap) / 2 ** 20 : Number.NaN,
    lagP99Ms: isEarshot ? median(lag) : Number.NaN,
    lagP99MaxMs: isEarshot ? Math.max(...lag) : Number.NaN,
    tickP99Ms: isEarshot
      ? histogramQuantile(m0, mEnd, 'earshot_mix_latency_seconds', 0.99) * 1000
      : Number.NaN,
    messagesPerS: messagesOut / wallS,
    /** Ticks per listener write when the window ended (earshot_write_coalescing; 1: every tick). */
    coalescing: isEarshot ? sumOf(mEnd, 'earshot_write_coalescing') : Number.NaN,
    dropped: isEarshot ? delta('earshot_frames_dropped_total') : 0,
    skippedTicks: isEarshot ? server.logs.skippedTicks - logs0.skippedTicks : b1.skipped - b0.skipped,
    evicted: isEarshot ? server.logs.evicted - logs0.evicted : 0,
    cheapMsgPerS:
      cheapListeners > 0 ? (s1.bytes - s0.bytes) / LISTEN_MESSAGE_BYTES / cheapListeners / wallS : Number.NaN,
    unexpectedCloses: s1.unexpectedCloses - s0.unexpectedCloses,
    ingestLateRuns: s1.ingestLateRuns - s0.ingestLateRuns,
    probe,
  };
}

/**
 * `measure`, but a window during which other processes used more than OTHERS_MAX_CPU of a core is
 * measured again (up to 3 tries) while the run's retry budget (`budgetS` seconds in all) lasts.
 */
export function quietMeasurer(budgetS) {
  let left = budgetS;
  return async (options) => {
    let m;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      m = await measure(options);
      m.attempts = attempt;
      if (m.othersCpu <= OTHERS_MAX_CPU || attempt === 3) break;
      const spent = (performance.now() - t0) / 1000;
      if (left < spent) break;
      left -= spent;
      log(`window disturbed: other processes used ${m.othersCpu.toFixed(0)} % of a core; measuring again`);
    }
    return m;
  };
}

/** Waits (up to `maxS`) for the machine to be quiet; resolves with the last busy figure (% of a core). */
export async function waitForQuiet(maxS) {
  const until = performance.now() + maxS * 1000;
  let busy = await machineBusy(1000);
  while (busy > OTHERS_MAX_CPU && performance.now() < until) {
    log(`machine busy (${busy.toFixed(0)} % of a core used by other processes); waiting`);
    busy = await machineBusy(3000);
  }
  return busy;
}
