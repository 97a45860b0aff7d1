#!/usr/bin/env node
import os from 'node:os';
/**
 * Listener formats: what a listener costs in bandwidth and server CPU when it takes 16 kHz mono
 * PCM16 (the default) and when it takes Opus (`encoding=opus`, 16 kHz mono), in the same run, and
 * what encoding Opus costs per call.
 *
 * One server (EARSHOT_MEDIA_WORKERS=0: everything in one process, its CPU that of one core at most)
 * holds `--calls` two-party calls (generic μ-law ingest, both participants a tone, from the bulk load
 * generator). Then, step by step — 1 and then 10 listeners per call — and format by format in turns
 * (the order reversed every other round), byte-counting listeners of that format connect to every
 * call, settle, and are measured for a window: the server's CPU (/proc) and the bytes they received
 * (WebSocket frames as on the wire). Derived:
 *
 *   bytes/s per listener        per format (Opus ÷ PCM16 is the bandwidth ratio)
 *   CPU per listener            marginal: (CPU at 10 per call − CPU at 1 per call) ÷ the listeners
 *                               added, per format — the fan-out's cost of one more listener
 *   Opus encoding per call      (CPU with Opus listeners − with PCM16 listeners) at 1 per call, ÷
 *                               calls, per 20 ms tick; and the same at 10 per call, which stays
 *                               the same where encoding is once per call (never per listener)
 *   libopus alone               the encoder of src/audio/opus.ts on a speech-like signal (voiced
 *                               harmonics with syllable-rate envelope and noise), µs per 20 ms frame
 *
 *   node bench/listener-formats.mjs [--calls=N] [--rounds=N] [--window=S] [--settle=S] [--quick]
 * Prints progress on stderr and one JSON line last on stdout.
 */
import { performance } from 'node:perf_hooks';
import { apiClient } from './lib/api.mjs';
import { commandLine } from './lib/cli.mjs';
import { freshServer } from './lib/earshot-server.mjs';
import { distFile, requireBuild } from './lib/paths.mjs';
import { cpuModel, cpuWindow } from './lib/proc.mjs';
import { OTHERS_MAX_CPU } from './lib/run/config.mjs';
import { createCalls, forkChild, HOST, ingestCalls } from './lib/run/load.mjs';
import { log } from './lib/run/log.mjs';
import { median } from './lib/stats.mjs';
import { runPrintingJson } from './lib/teardown.mjs';

const USAGE = `usage: node bench/listener-formats.mjs [options]

  --calls=N            two-party calls on the server (default 50; --quick 3)
  --rounds=N           windows per format and step, formats taking turns (default 2; --quick 1)
  --window=S           seconds per measured window (default 3; --quick 0.6)
  --settle=S           seconds between the listeners' connecting and the window (default 1.5; --quick 0.4)
  --quick              a smoke run: seconds, tiny counts
  --help               this text

Prints progress on stderr and one JSON line last on stdout.`;

export const FORMATS = {
  pcm16: { label: 'PCM16 16 kHz mono', query: '' },
  opus: { label: 'Opus 16 kHz mono', query: '&encoding=opus' },
};
const LISTENERS_PER_CALL = [1, 10];
const TICKS_PER_S = 50;
/** Passes of the signal per encoder setting (libopus alone); the median counts. */
const ENCODER_ROUNDS = 3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One window of `format` at `perCall` listeners per call: server CPU, bytes per listener-second. */
async function measure(ctx, format, perCall) {
  const { lg, server, calls, opts } = ctx;
  const group = `${format}-${perCall}`;
  const paths = calls.flatMap((c) =>
    Array.from({ length: perCall }, () => c.listenPath + FORMATS[format].query),
  );
  const opened = await lg.call('listen', { host: HOST, port: ctx.port, group, paths });
  if (opened.failed) throw new Error(`${group}: ${opened.failed} listeners failed (${opened.firstError})`);
  try {
    await sleep(opts.settleS * 1000);
    let w;
    for (let attempt = 1; ; attempt++) {
      const s0 = await lg.call('stats');
      const cpu = cpuWindow([server.pid, lg.pid]);
      const t0 = performance.now();
      await sleep(opts.windowS * 1000);
      const {
        processes: [serverCpu, generatorCpu],
        others,
      } = cpu();
      const s1 = await lg.call('stats');
      const wallS = (performance.now() - t0) / 1000;
      const listeners = paths.length;
      w = {
        format,
        perCall,
        listeners,
        serverCpu,
        generatorCpu,
        othersCpu: others,
        bytesPerListenerS: (s1.bytes - s0.bytes) / wallS / listeners,
        closed: s1.unexpectedCloses - s0.unexpectedCloses,
        attempts: attempt,
      };
      if (others <= OTHERS_MAX_CPU || attempt === 3) break;
      log(`listener formats: window disturbed (others ${others.toFixed(0)} % of a core); measuring again`);
    }
    log(
      `listener formats ${format} × ${perCall}/call: ${w.listeners} listeners  cpu ${w.serverCpu.toFixed(1)}%  ` +
        `${w.bytesPerListenerS.toFixed(0)} B/s per listener  gen ${w.generatorCpu.toFixed(0)}%  others ${w.othersCpu.toFixed(0)}%`,
    );
    return w;
  } finally {
    await lg.call('unlisten', { group });
  }
}

/** A speech-like 16 kHz signal: a voiced tone complex (f0 gliding 110–190 Hz) with a 4 Hz syllable envelope and noise. */
function speechLike(seconds, rate = 16000) {
  const out = new Int16Array(seconds * rate);
  let phase = 0;
  let seed = 1;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    const f0 = 150 + 40 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * f0) / rate;
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(h * phase) / h;
    const envelope = Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 0.5;
    out[i] = Math.round(4000 * envelope * v + 800 * noise());
  }
  return out;
}

/**
 * libopus alone (src/audio/opus.ts's encoder, set as the server sets it), on the speech-like signal:
 * µs per 20 ms frame and bytes per second, at 16 kHz mono for complexities 0, 3, 5 (the default)
 * and 10, and at 48 kHz mono at the default. The settings take turns over ENCODER_ROUNDS passes of
 * the signal, each from a fresh encoder; the median pass counts (a pass the machine disturbed does not).
 */
async function encoderAlone(quick) {
  const { OpusPacketEncoder, OPUS_COMPLEXITY } = await import(distFile('audio/opus.js'));
  const signal = speechLike(quick ? 2 : 10);
  const settings = [
    ['16k-mono-c0', 16000, 1, 0],
    ['16k-mono-c3', 16000, 1, 3],
    ['16k-mono', 16000, 1, OPUS_COMPLEXITY],
    ['16k-mono-c10', 16000, 1, 10],
    ['48k-mono', 48000, 1, OPUS_COMPLEXITY],
  ];
  const passes = Object.fromEntries(settings.map(([name]) => [name, []]));
  let bytesPerS = {};
  for (let round = 0; round < ENCODER_ROUNDS; round++) {
    for (const [name, rate, channels, complexity] of settings) {
      const encoder = new OpusPacketEncoder(rate, channels, complexity);
      const samples = rate === 16000 ? signal : upsample3(signal);
      const size = (320 * rate) / 16000;
      const frames = Math.floor(samples.length / size);
      for (let i = 0; i < Math.min(50, frames); i++)
        encoder.encode(samples.subarray(i * size, (i + 1) * size));
      let bytes = 0;
      const t0 = performance.now();
      for (let i = 0; i < frames; i++)
        bytes += encoder.encode(samples.subarray(i * size, (i + 1) * size)).length;
      passes[name].push(((performance.now() - t0) * 1000) / frames);
      bytesPerS = { ...bytesPerS, [name]: (bytes / frames) * TICKS_PER_S };
    }
  }
  const result = {};
  for (const [name, rate, , complexity] of settings) {
    const usPerFrame = median(passes[name]);
    result[name] = { rate, complexity, usPerFrame, passes: passes[name], bytesPerS: bytesPerS[name] };
    log(
      `listener formats: libopus ${name} ${usPerFrame.toFixed(1)} µs per 20 ms frame (passes ${passes[name].map((u) => u.toFixed(0)).join(', ')}), ${bytesPerS[name].toFixed(0)} B/s`,
    );
  }
  return { complexity: OPUS_COMPLEXITY, ...result };
}

/** 16 → 48 kHz by linear interpolation (the encoder's cost depends on the rate, hardly on the content's band). */
function upsample3(x) {
  const y = new Int16Array(x.length * 3);
  for (let i = 0; i < x.length; i++) {
    const a = x[i];
    const b = x[Math.min(i + 1, x.length - 1)];
    y[3 * i] = a;
    y[3 * i + 1] = Math.round(a + (b - a) / 3);
    y[3 * i + 2] = Math.round(a + (2 * (b - a)) / 3);
  }
  return y;
}

function summarize(windows, calls) {
  const at = (format, perCall, key) =>
    median(windows.filter((w) => w.format === format && w.perCall === perCall).map((w) => w[key]));
  const [few, many] = LISTENERS_PER_CALL;
  const byFormat = {};
  for (const format of Object.keys(FORMATS)) {
    const cpuFew = at(format, few, 'serverCpu');
    const cpuMany = at(format, many, 'serverCpu');
    const added = (many - few) * calls;
    byFormat[format] = {
      bytesPerListenerS: at(format, many, 'bytesPerListenerS'),
      cpu: { [few]: cpuFew, [many]: cpuMany },
      /** Server CPU per listener, µs per second of listening (1 % of a core = 10,000 µs/s). */
      usPerListenerS: ((cpuMany - cpuFew) * 10_000) / added,
    };
  }
  const encodePerCallTick = (perCall) =>
    ((at('opus', perCall, 'serverCpu') - at('pcm16', perCall, 'serverCpu')) * 10_000) / calls / TICKS_PER_S;
  return {
    byFormat,
    bandwidthRatio: byFormat.opus.bytesPerListenerS / byFormat.pcm16.bytesPerListenerS,
    cpuPerListenerRatio: byFormat.opus.usPerListenerS / byFormat.pcm16.usPerListenerS,
    /** Opus's extra server CPU per call and 20 ms tick, with 1 and with 10 listeners per call. */
    opusExtraUsPerCallTick: { [few]: encodePerCallTick(few), [many]: encodePerCallTick(many) },
  };
}

const cl = commandLine(process.argv.slice(2), {
  script: 'bench/listener-formats.mjs',
  usage: USAGE,
  options: {
    calls: { type: 'string' },
    rounds: { type: 'string' },
    window: { type: 'string' },
    settle: { type: 'string' },
    quick: { type: 'boolean' },
  },
});
const quick = cl.values.quick ?? false;
const opts = {
  quick,
  calls: cl.number('calls', quick ? 3 : 50, { min: 1 }),
  rounds: cl.number('rounds', quick ? 1 : 2, { min: 1 }),
  windowS: cl.number('window', quick ? 0.6 : 3, { min: 0.2, integer: false }),
  settleS: cl.number('settle', quick ? 0.4 : 1.5, { min: 0, integer: false }),
};
requireBuild('bench/listener-formats.mjs');

await runPrintingJson('listener-formats', quick ? 120 : 600, async () => {
  const encoder = await encoderAlone(quick);
  const { server, port, apiKey } = await freshServer({ name: 'listener-formats', mediaWorkers: 0 });
  const api = apiClient(server.base, apiKey);
  const lg = forkChild('load-generator.mjs');
  const calls = await createCalls(api, opts.calls);
  const ing = await ingestCalls(lg, port, calls);
  if (ing.failed) throw new Error(`ingest connect failed: ${ing.firstError}`);
  await lg.call('ingestStart');
  const ctx = { lg, server, port, calls, opts };
  const windows = [];
  const formats = Object.keys(FORMATS);
  for (const perCall of LISTENERS_PER_CALL) {
    for (let r = 0; r < opts.rounds; r++) {
      for (const format of r % 2 === 0 ? formats : [...formats].reverse())
        windows.push(await measure(ctx, format, perCall));
    }
  }
  await lg.call('ingestStop');
  return {
    cores: os.availableParallelism(),
    cpu: cpuModel(),
    calls: opts.calls,
    listenersPerCall: LISTENERS_PER_CALL,
    rounds: opts.rounds,
    windowS: opts.windowS,
    formats: Object.fromEntries(formats.map((f) => [f, FORMATS[f].label])),
    encoder,
    summary: summarize(windows, opts.calls),
    windows,
  };
});
