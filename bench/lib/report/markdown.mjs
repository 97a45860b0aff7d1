/** docs/benchmarks.md from the results of a bench/run.mjs run: the figures, the method, every window. */
import { percentile } from '../stats.mjs';
import { f0, f1, f2 } from './format.mjs';
import { summarize } from './summary.mjs';
import { rows } from './table.mjs';

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
      'is read from `/proc/<pid>/stat` (utime + stime, all threads, with its child processes: media workers) and its RSS from `/proc/<pid>/status` (the same processes); heap, event-loop ' +
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
      'above (listeners in its one event loop), then against a fresh server with media workers ' +
      '(`EARSHOT_MEDIA_WORKERS` = cores − 1), each of which owns whole calls — ingest, mixing and listener sockets — in its own process.',
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
      `### Ceiling steps: ${s.ceilingWorkersCount} media worker(s) (EARSHOT_MEDIA_WORKERS=${s.ceilingWorkersCount})`,
      '',
    );
    md.push(
      'The same steps against a server started with media workers (a separate server, calls and ingest, after the ' +
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
  md.push("## Where Scenario A's latency goes", '');
  md.push(
    `The probe participants' jitter buffers added a median **${f0(s.probeBufferMs)} ms** at the end of the windows ` +
      `(\`buffer_ms\` of GET /v1/calls/{id}), against an added latency p50 of ${f1(s.latencyP50)} ms. A buffer is ` +
      'one frame deep (20 ms: the wait for the next mix) while its frames come in time, and a frame deeper for 5 s ' +
      'per tick by which any frame of that participant came later than usual: it plays the late frame rather than ' +
      'conceal it. Measured on 2026-12-01 (Scenario A, one media worker, three windows): buffers of 60, 20–40 and ' +
      '80 ms went with p50 65, 54 and 80 ms — the latency follows the buffers, which follow the latest frames of the ' +
      `last seconds. With the server's event-loop lag p99 at ${f1(s.lagP99Ms)} ms here, frames that come two or ` +
      'three ticks late were held up before the server could read them: on this 2-core machine the server and the ' +
      `load generators use ~${f0(s.serverCpu + s.generatorCpu)} % of one core together, and a sender that waits ` +
      'its turn for a core for tens of milliseconds makes its frame that late. With fewer calls the same code ' +
      'measures p50 13–21 ms (experiment of 2026-12-01 below). Concealing such frames instead would keep the ' +
      'latency down at the price of clicks; SPEC §3 and the concealment target ask for the audio.',
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
      'FIR folded into 14 multiplies — with the same passband and −62 dB images. Written out so that each input sample ' +
      'is read once rather than 28 times, it costs 2.4 µs per frame (8.0 µs before that; 15.7 µs for the general ' +
      'polyphase FIR, 19.6 µs before it was given paired outputs), medians measured in isolation on this VM on ' +
      '2026-11-30 — the first measurement, on an older VM, was 2.8 against 7.5 µs. The speed check above times this ' +
      'resampler, so reports made before that change read about 3× higher there.',
    '3. Reading ingest sockets (libuv + `ws` frame parsing): a few % each; μ-law decoding, jitter buffers, the mix, ' +
      'PCM16 encoding and framing are ≤ 1–3 % each.',
    '',
    'Per listener message, what is left in JavaScript is a backlog check and one entry in the batch; the rest is the ' +
      "kernel's. What moves the ceiling is fewer system calls per core and more cores: when the server is short of CPU " +
      'and the clock runs catch-up ticks back to back, each listener holds the burst and gets it in one system call ' +
      '(`TickWriter`, `src/live/write-coalescing.ts`: one `send()` of a buffer shared by the output group through the ' +
      'addon, or one `writev`), and under sustained load up to 3 ticks go out per write (5 while ticks still run late) ' +
      '(`EARSHOT_WRITE_COALESCING`), so the cost per message falls as load rises. Beyond one core, media workers ' +
      '(`EARSHOT_MEDIA_WORKERS`) each own whole calls — ingest, mixing and listener sockets — on their own cores ' +
      '(second ceiling table).',
    '',
  );
  md.push('## Experiment (2026-11-24): a clock that polls I/O between catch-up ticks', '');
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
      'audio. What runs now (issue 11, docs/architecture.md): a media worker polls *once* before a catch-up burst and then ' +
      'runs it back to back, the main process not at all, and the jitter buffers grow to the lateness they see (a late ' +
      'frame is played after all), so a stall costs latency rather than audio.',
    '',
  );
  md.push('## Experiment (2026-12-01): each call mixed at its own phase', '');
  md.push(
    "A frame waits for its call's next mix: 0–20 ms, 10 on average, with one clock phase for every call; and a call whose frames arrive just before that phase has the smallest jitter push one past it, so its jitter buffer holds a frame more (+20 ms) for 5 s. Mixing each call at its own phase was built and measured (commit 51f3a7b, reverted): a 5 ms clock, 4 sub-ticks per period, each room at the sub-tick soonest after every frame of its last 5 s arrived with 3 ms in hand (arrival times in 1 ms bins), never mixed twice within a period. Scenario A's probes, one media worker, builds alternating (`--server-dist`), added latency p50 / p99 per 8 s window:",
    '',
    '| Calls (listeners) | one phase (current) | a phase per call |',
    '|---|---|---|',
    '| 60 (300) | 61.0 / 111.5, 19.1 / 40.5, 19.4 / 29.5 ms | 79.1 / 99.8, 34.6 / 57.5, 76.9 / 97.8 ms |',
    '| 10 (50) | 20.8 / 35.3, 12.5 / 22.4 ms | 15.4 / 36.0, 26.1 / 68.9 ms |',
    '',
    "No better, mostly worse, and the spread between windows of one build is as large as any difference: the probes' latency is set by the jitter buffers' depth — a frame late by more than the margin, anywhere in the last 5 s, makes it a frame deeper — more than by where in the period a call is mixed, and a call moved to a later phase holds one frame more until the buffer sheds it. A first version that ignored arrival bins under 5 % of the frames as outliers concealed more frames (42–72 per window against 9–60). The clock keeps one phase; what would lower the latency is a jitter buffer that sizes its depth on a lateness percentile rather than the 5 s maximum, at the price of concealing the rarest late frames.",
    '',
  );
  md.push('## Connection storm', '');
  const st = results.storm ?? { skipped: 'not run' };
  md.push(
    'Run by `npm run bench` after the parts above (alone: `node bench/storm.mjs`): a fresh server with its default media ' +
      'workers (`EARSHOT_MEDIA_WORKERS=auto`), 200 two-party μ-law calls ingesting in real time, then 5,000 listeners ' +
      'spread over them connect at once — every TCP connection and upgrade request started together, from ' +
      "`--listener-procs` load-generator processes. Admitted = its `101` arrived. Then each listener's bytes are " +
      'counted over a window.',
    '',
    st.result
      ? `Measured: ${st.result.admitted} of ${st.result.listeners} admitted (TCP connected by ${st.result.connectedMaxS.toFixed(1)} s, ` +
          `${st.result.allAdmittedS === null ? `${st.result.failed} never` : `all by ${st.result.allAdmittedS.toFixed(1)} s`}, ` +
          `p50 ${st.result.admittedP50S.toFixed(2)} s), ${st.result.fullRate} at ≥ 90 % of the stream rate over ${st.result.windowS} s ` +
          `(slowest ${(100 * st.result.minShare).toFixed(0)} %), ${st.result.closed} closed by the server, ` +
          `${st.result.droppedInWindow} messages dropped for backlog in the window, ${st.result.skippedTicks} mixer ticks skipped${st.result.skippedInWindow === undefined ? '' : ` (${st.result.skippedInWindow} in the window)`}.`
      : `_${st.error ?? st.skipped}_`,
    '',
  );
  md.push('## Capacity in calls', '');
  const cap = results.capacity ?? { skipped: 'not run' };
  md.push(
    'Run by `npm run bench` (alone: `node bench/capacity.mjs`): for each number of media workers W from 0 (one process) ' +
      'to cores − 1, a fresh server; two-party μ-law 8 kHz calls are added in steps, each with both participants ingesting ' +
      'in real time (one load-generator process) and one listener; after 5 s to settle, a window counts the frames the jitter ' +
      'buffers concealed (`frames_lost` over every call) and the ticks skipped. The capacity is the last step with 0 of both. ' +
      'The target of issue 11 — W workers ≥ 0.8 × W × one worker — needs at least 3 cores to be tested.',
    '',
  );
  if (cap.result) {
    md.push('| W | calls (concealed / late / frames in, skipped ticks) | capacity |', '|---|---|---|');
    for (const run of cap.result.runs) {
      const steps = run.steps
        .map(
          (s) =>
            `${s.calls}: ${s.concealed} / ${s.late} / ${s.framesIn}${s.skippedTicks ? `, ${s.skippedTicks} skipped` : ''}`,
        )
        .join('; ');
      md.push(`| ${run.workers} | ${steps} | ${run.capacity} |`);
    }
  } else md.push(`_${cap.error ?? cap.skipped}_`);
  md.push('');
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
