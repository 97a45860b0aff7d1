/**
 * The ceiling of bench/run.mjs: with Scenario A's ingest running, listeners are added over the same
 * calls in steps until a step is not served (a frame dropped, a tick skipped, a listener lost or
 * < 99 % of the expected messages written); a served step passes when the lag p99 is in target too.
 */
import { CEILING_CONNECT_BUDGET_MS, TARGETS } from './config.mjs';
import { HOST } from './load.mjs';
import { log, windowLine } from './log.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `ctx`: { cfg, port, server, calls, load, measureQuiet }; `steps`: listener counts. One record per step run. */
export async function ceilingSteps({ cfg, port, server, calls, load, measureQuiet }, steps) {
  const { lg1, lg2 } = load;
  await load.startIngest();
  await lg2.call('listen');
  const results = [];
  let current = cfg.probes;
  let cursor = 0;
  for (const target of steps) {
    const paths = [];
    // Spread evenly: the bulk calls get the cheap listeners, round-robin.
    for (let k = current; k < target; k++) paths.push(calls[cursor++ % calls.length].listenPath);
    const r = await lg1.call('listen', {
      host: HOST,
      port,
      group: 'ceiling',
      paths,
      budgetMs: CEILING_CONNECT_BUDGET_MS,
    });
    current += r.opened;
    const connectError = r.failed
      ? `${r.failed} of ${paths.length} listeners could not connect: ${r.firstError}`
      : null;
    await sleep(cfg.stepSettleS * 1000);
    const m = await measureQuiet({
      server,
      lg1,
      lg2,
      windowS: cfg.stepWindowS,
      cheapListeners: current - cfg.probes,
      probes: true,
    });
    const delivered = m.messagesPerS / (current * 50);
    // Served: every listener got every message. The ceiling also wants a responsive event loop.
    const served =
      !connectError &&
      m.dropped === 0 &&
      m.skippedTicks === 0 &&
      m.unexpectedCloses === 0 &&
      delivered >= 0.99;
    const lagOk = m.lagP99Ms <= TARGETS.lagP99Ms;
    results.push({ listeners: current, ...m, delivered, served, lagOk, pass: served && lagOk, connectError });
    const verdict = served ? (lagOk ? 'ok' : 'served, lag high') : 'STOP';
    log(`${windowLine('ceiling', m, current)}  delivered ${(100 * delivered).toFixed(1)}%  ${verdict}`);
    if (!served) break;
  }
  return results;
}
