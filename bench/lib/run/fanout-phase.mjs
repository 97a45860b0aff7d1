/**
 * The repeated part of bench/run.mjs. Each repeat measures Scenario A (every call ingesting, every
 * listener connected, latency probes on), then earshot's fan-out pair with the ingest paused (all
 * listeners, then one per call), then the same pair against each baseline server (naive, floor)
 * while earshot is quiet.
 */
import { jitterStats } from './load.mjs';
import { log, windowLine } from './log.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `ctx`: { cfg, api, server, calls, load (from startLoad), baselines: { naive, floor } (Children),
 * measureQuiet }. Resolves with one record per repeat: { scenario, full, base, naive, naiveBase,
 * floor, floorBase } (measured windows).
 */
export async function fanoutRepeats({ cfg, api, server, calls, load, baselines, measureQuiet }) {
  const { lg1, lg2 } = load;
  const common = { server, lg1, lg2 };
  const warmUp = () => sleep(cfg.warmupS * 1000);
  const baselinePorts = {};
  for (const [name, child] of Object.entries(baselines)) baselinePorts[name] = await child.call('port');
  const basePaths = load.bulkCalls.map((c) => c.listenPath);
  const fullPaths = calls.flatMap((c) => Array(cfg.perCall - 1).fill(c.listenPath));
  const fullListeners = cfg.calls * cfg.perCall;
  const baseListeners = cfg.calls;
  const allCheap = basePaths.length + fullPaths.length;
  const repeats = [];

  for (let r = 0; r < cfg.repeats; r++) {
    const rep = {};
    const label = (what) => `#${r + 1} ${what}`;
    // Scenario A: every call ingesting, every listener connected.
    if (r > 0) await load.startIngest();
    await lg2.call('listen');
    await load.listen('base', basePaths);
    await load.listen('full', fullPaths);
    await warmUp();
    const window = { ...common, windowS: cfg.windowS, probes: true };
    rep.scenario = await measureQuiet({ ...window, cheapListeners: allCheap });
    rep.scenario.jitter = await jitterStats(api, load.probeCalls);
    log(windowLine(label('earshot Scenario A'), rep.scenario, fullListeners));
    log(`   jitter buffers of the probe calls so far: ${JSON.stringify(rep.scenario.jitter)}`);
    // Fan-out pair, ingest paused: every call is still mixed and sent (silence, 50 msg/s), but the
    // server is no longer CPU-bound, so the difference between the two windows is the fan-out.
    await load.stopIngest();
    await warmUp();
    rep.full = await measureQuiet({ ...window, cheapListeners: allCheap });
    log(windowLine(label('earshot fan-out'), rep.full, fullListeners));
    await lg1.call('unlisten', { group: 'full' });
    await warmUp();
    rep.base = await measureQuiet({ ...window, cheapListeners: basePaths.length });
    log(windowLine(label('earshot fan-out'), rep.base, baseListeners));
    // Quiet earshot down completely while the baselines run.
    await lg1.call('unlisten', { group: 'base' });
    await lg2.call('unlisten');
    for (const [name, child] of Object.entries(baselines)) {
      // The same two listener counts as earshot, so that all three are compared per added listener.
      const paths = (from, to) =>
        Array.from({ length: to - from }, (_, i) => `/listen/${(from + i) % cfg.calls}`);
      await load.listen(name, paths(0, baseListeners), baselinePorts[name]);
      await warmUp();
      const options = { ...common, baseline: child, windowS: cfg.windowS, probes: false };
      rep[`${name}Base`] = await measureQuiet({ ...options, cheapListeners: baseListeners });
      log(windowLine(label(`${name} base`), rep[`${name}Base`], baseListeners));
      await load.listen(name, paths(baseListeners, fullListeners), baselinePorts[name]);
      await warmUp();
      rep[name] = await measureQuiet({ ...options, cheapListeners: fullListeners });
      log(windowLine(label(`${name} full`), rep[name], fullListeners));
      await lg1.call('unlisten', { group: name });
    }
    repeats.push(rep);
  }
  return repeats;
}
