/**
 * The console's AudioWorklet (web/pcm-player.worklet.js) run in Node against a simulated audio
 * clock: 20 ms PCM16 messages arrive with network jitter (and drift, stalls, bursts) while the
 * processor renders 128-frame quanta at the context's rate.
 */
import { beforeAll, describe, expect, it } from 'vitest';

interface WorkletStats {
  receivedSamples: number;
  playedSamples: number;
  underruns: number;
  lateFrames: number;
  overflowDrops: number;
  droppedSamples: number;
}
interface Processor {
  port: { onmessage: ((event: { data: unknown }) => void) | null };
  stats: WorkletStats;
  written: number;
  readPos: number;
  step: number;
  baseStep: number;
  process(inputs: unknown[], outputs: Float32Array[][]): boolean;
}
type ProcessorClass = new (options: { processorOptions: object }) => Processor;

const INPUT_RATE = 16000;
const MESSAGE_SAMPLES = 320;
const QUANTUM = 128;
const AMPLITUDE = 0.25; // −12 dBFS
const g = globalThis as Record<string, unknown>;
let Player: ProcessorClass;

beforeAll(async () => {
  g.sampleRate = 48000;
  g.AudioWorkletProcessor = class {
    port = { onmessage: null, postMessage: () => {} };
  };
  g.registerProcessor = (_name: string, cls: ProcessorClass) => {
    Player = cls;
  };
  await import(new URL('../../web/pcm-player.worklet.js', import.meta.url).href);
});

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Simulation {
  outputRate: number;
  seconds: number;
  /** The server's clock relative to the sound card's, in ppm (positive: audio arrives faster). */
  driftPpm?: number;
  /** Extra network delay per message, uniform in [0, jitterMs]. */
  jitterMs?: number;
  /** Messages sent in [at, at + ms) arrive together at at + ms (a stall). */
  stall?: { at: number; ms: number };
  /** From `at` on, the stream runs `ms` ahead: what was due in [at, at + ms) arrives at once. */
  burst?: { at: number; ms: number };
  freqHz?: number;
  /** The stream's rate, told to the worklet with a `format` message when not 16 kHz. */
  inputRate?: number;
  /** Float32Array messages (decoded Opus) instead of PCM16. */
  float?: boolean;
}

function simulate(sim: Simulation) {
  g.sampleRate = sim.outputRate;
  const player = new Player({ processorOptions: { inputRate: INPUT_RATE, targetMs: 80, maxMs: 250 } });
  const inputRate = sim.inputRate ?? INPUT_RATE;
  if (inputRate !== INPUT_RATE) player.port.onmessage?.({ data: { type: 'format', inputRate } });
  const messageSamples = (MESSAGE_SAMPLES * inputRate) / INPUT_RATE;
  const random = mulberry32(7);
  const w = (2 * Math.PI * (sim.freqHz ?? 440)) / inputRate;
  const messagePeriod = messageSamples / inputRate / (1 + (sim.driftPpm ?? 0) * 1e-6);
  let lastArrival = 0;
  const arrival = (k: number) => {
    const sent = k * messagePeriod;
    let at = sent + (random() * (sim.jitterMs ?? 0)) / 1000;
    if (sim.stall && sent >= sim.stall.at && sent < sim.stall.at + sim.stall.ms / 1000) {
      at = sim.stall.at + sim.stall.ms / 1000;
    }
    if (sim.burst && sent >= sim.burst.at) at = Math.max(sim.burst.at, at - sim.burst.ms / 1000);
    lastArrival = Math.max(lastArrival, at); // one TCP stream: in order
    return lastArrival;
  };
  const message = (k: number) => {
    if (sim.float) {
      const samples = new Float32Array(messageSamples);
      for (let i = 0; i < messageSamples; i++)
        samples[i] = AMPLITUDE * Math.sin(w * (k * messageSamples + i));
      return samples;
    }
    const bytes = new ArrayBuffer(messageSamples * 2);
    const view = new DataView(bytes);
    for (let i = 0; i < messageSamples; i++) {
      view.setInt16(i * 2, Math.round(AMPLITUDE * 32768 * Math.sin(w * (k * messageSamples + i))), true);
    }
    return bytes;
  };

  const quanta = Math.ceil((sim.seconds * sim.outputRate) / QUANTUM);
  const out = new Float32Array(quanta * QUANTUM);
  const bufferedMs: number[] = [];
  let k = 0;
  let next = arrival(0);
  for (let q = 0; q < quanta; q++) {
    const now = (q * QUANTUM) / sim.outputRate;
    while (next <= now) {
      player.port.onmessage?.({ data: message(k++) });
      next = arrival(k);
    }
    player.process([], [[out.subarray(q * QUANTUM, (q + 1) * QUANTUM)]]);
    if (q % Math.round(sim.outputRate / QUANTUM) === 0) {
      bufferedMs.push(((player.written - player.readPos) * 1000) / inputRate);
    }
  }
  return { player, out, bufferedMs, stats: { ...player.stats } };
}

/** Largest |second difference| (a step or kink shows up here; a smooth tone stays tiny). */
function maxSecondDifference(x: Float32Array, from = 0, to = x.length): number {
  let max = 0;
  for (let i = Math.max(2, from); i < to; i++) max = Math.max(max, Math.abs(x[i] - 2 * x[i - 1] + x[i - 2]));
  return max;
}

function zeroCrossingHz(x: Float32Array, rate: number, from: number, to: number): number {
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if (x[i - 1] < 0 && x[i] >= 0) crossings++;
  return (crossings * rate) / (to - from);
}

/** The output after the 80 ms start and 5 ms fade-in is the 440 Hz tone: smooth, at its level and pitch, never dry. */
function expectCleanTone({ out, stats }: { out: Float32Array; stats: WorkletStats }, rate: number): void {
  const from = Math.round(0.2 * rate);
  const smooth = AMPLITUDE * ((2 * Math.PI * 440) / rate) ** 2; // a pure tone's |second difference|
  expect(maxSecondDifference(out, from)).toBeLessThan(3 * smooth);
  let peak = 0;
  for (let i = from; i < out.length; i++) peak = Math.max(peak, Math.abs(out[i]));
  expect(peak).toBeCloseTo(AMPLITUDE, 2);
  expect(zeroCrossingHz(out, rate, from, out.length)).toBeCloseTo(440, 0);
  expect(stats).toMatchObject({ underruns: 0, overflowDrops: 0 });
}

describe('console AudioWorklet player', () => {
  it.each([48000, 44100])('resamples 16 kHz to %i Hz with no clicks at message boundaries', (rate) => {
    expectCleanTone(simulate({ outputRate: rate, seconds: 5, jitterMs: 15 }), rate);
  });

  it.each([
    [48000, 48000],
    [48000, 44100],
    [16000, 48000],
  ])(
    'plays float samples (decoded Opus) told to be at %i Hz on a %i Hz context: at pitch, level, no clicks',
    (inputRate, rate) => {
      const run = simulate({ outputRate: rate, seconds: 5, jitterMs: 15, inputRate, float: true });
      expectCleanTone(run, rate);
      const { bufferedMs } = run;
      // The buffer holds its target in ms whatever the rate.
      expect(Math.max(...bufferedMs.slice(1))).toBeLessThan(130);
    },
  );

  it.each([300, -300])(
    'absorbs %i ppm of clock drift for 5 minutes without dropping or running dry',
    (ppm) => {
      const { player, stats, bufferedMs } = simulate({
        outputRate: 48000,
        seconds: 300,
        driftPpm: ppm,
        jitterMs: 20,
      });
      expect(stats).toMatchObject({ underruns: 0, overflowDrops: 0, droppedSamples: 0 });
      const late = bufferedMs.slice(60); // after the first minute
      expect(Math.min(...late)).toBeGreaterThan(40);
      expect(Math.max(...late)).toBeLessThan(130);
      // The playback rate follows the drift.
      expect(Math.abs((player.step / player.baseStep - 1) * 1e6 - ppm)).toBeLessThan(150);
    },
  );

  it('an underrun fades to silence, is counted, and playback restarts at the target without a click', () => {
    const rate = 48000;
    const { out, stats, bufferedMs } = simulate({ outputRate: rate, seconds: 5, stall: { at: 2, ms: 300 } });
    expect(stats.underruns).toBe(1);
    // Silent from running dry (~2.08 s) until the stalled audio arrives (2.3 s): ~220 ms.
    expect((stats.lateFrames / rate) * 1000).toBeGreaterThan(150);
    expect((stats.lateFrames / rate) * 1000).toBeLessThan(300);
    // The 300 ms that arrived at once is late: restart from recent audio, not 300 ms behind.
    expect(stats.overflowDrops).toBe(1);
    expect(bufferedMs.at(-1)).toBeLessThan(110);
    expect(maxSecondDifference(out, Math.round(0.2 * rate))).toBeLessThan(0.03);
  });

  it('a stream that jumps ahead (a burst) is skipped down to the target with a crossfade', () => {
    const rate = 44100;
    const { out, stats, bufferedMs } = simulate({ outputRate: rate, seconds: 4, burst: { at: 2, ms: 400 } });
    expect(stats.underruns).toBe(0);
    expect(stats.overflowDrops).toBe(1);
    expect((stats.droppedSamples / INPUT_RATE) * 1000).toBeGreaterThan(250);
    expect(bufferedMs.at(-1)).toBeLessThan(110);
    expect(maxSecondDifference(out, Math.round(0.2 * rate))).toBeLessThan(0.03);
  });
});
