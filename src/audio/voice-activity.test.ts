import { describe, expect, it } from 'vitest';
import { FRAME_SAMPLES } from '../domain/audio-format.js';
import { rmsDbfs, START_FRAMES, STOP_FRAMES, VoiceActivity } from './voice-activity.js';

/** One 20 ms frame of a 400 Hz sine at `dbfs` (peak), or of silence. */
function frame(dbfs: number | null): Int16Array {
  const out = new Int16Array(FRAME_SAMPLES);
  if (dbfs === null) return out;
  const amplitude = 32767 * 10 ** (dbfs / 20);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 400 * i) / 16000));
  return out;
}

/** The transitions (and the frame index of each) of a sequence of frame levels. */
function run(levels: (number | null | 'none')[]): [number, string][] {
  const vad = new VoiceActivity();
  const out: [number, string][] = [];
  levels.forEach((level, i) => {
    const t = vad.update(level === 'none' ? null : frame(level));
    if (t) out.push([i, t]);
  });
  return out;
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v);

describe('VoiceActivity (who is speaking, SPEC §3 events)', () => {
  it('measures RMS in dBFS: a full-scale sine ≈ −3, silence −120', () => {
    expect(rmsDbfs(frame(0))).toBeCloseTo(-3.01, 1);
    expect(rmsDbfs(frame(-20))).toBeCloseTo(-23.01, 1);
    expect(rmsDbfs(frame(null))).toBe(-120);
  });

  it('starts after 60 ms of voice and stops after 400 ms of quiet', () => {
    const levels = [...times(10, null), ...times(50, -20), ...times(40, null)];
    expect(run(levels)).toEqual([
      [10 + START_FRAMES - 1, 'start'],
      [60 + STOP_FRAMES - 1, 'stop'],
    ]);
  });

  it('a click does not start it; the pauses between words do not stop it', () => {
    expect(run([...times(5, null), -10, -10, ...times(30, null)])).toEqual([]);
    const words = [
      ...times(10, -20),
      ...times(12, null),
      ...times(10, -20),
      ...times(15, -60),
      ...times(10, -20),
    ];
    expect(run([...words, ...times(30, null)]).map(([, t]) => t)).toEqual(['start', 'stop']);
  });

  it('hysteresis: a level between the thresholds keeps the state it finds', () => {
    // −45 dBFS peak (−48 RMS … −45): not loud enough to start, not quiet enough to stop.
    expect(run(times(40, -44))).toEqual([]);
    const t = run([...times(5, -20), ...times(60, -44)]);
    expect(t).toEqual([[START_FRAMES - 1, 'start']]);
  });

  it('frames with nothing heard (a track idle or gone) count as quiet', () => {
    expect(run([...times(10, -20), ...times<'none'>(STOP_FRAMES, 'none')])).toEqual([
      [START_FRAMES - 1, 'start'],
      [10 + STOP_FRAMES - 1, 'stop'],
    ]);
  });

  it('a steady hum stops counting as speech within seconds: the noise floor rises to it', () => {
    const t = run(times(500, -30));
    expect(t[0]).toEqual([START_FRAMES - 1, 'start']);
    expect(t[1][1]).toBe('stop');
    expect(t[1][0] * 20).toBeLessThan(8000);
    // …and speech over it still starts.
    const vad = new VoiceActivity();
    for (let i = 0; i < 500; i++) vad.update(frame(-30));
    expect(vad.speaking).toBe(false);
    let started = false;
    for (let i = 0; i < 10; i++) started ||= vad.update(frame(-6)) === 'start';
    expect(started).toBe(true);
  });
});
