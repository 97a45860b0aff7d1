import { describe, expect, it } from 'vitest';
import { sine } from '../../test/helpers/signals.js';
import { toneLevelDb } from '../../test/helpers/spectrum.js';
import { OpusPacketDecoder, OpusPacketEncoder, opusAvailability, opusBitrate } from './opus.js';

describe('Opus (libopus through @discordjs/opus)', () => {
  it('is available here (npm ci built it from its bundled source)', () => {
    expect(opusAvailability()).toEqual({ available: true });
  });

  it.each([0, 5, 10])(
    'complexity %i: a 1 kHz tone comes back at its level, in packets of about 60 bytes',
    (c) => {
      const encoder = new OpusPacketEncoder(16000, 1, c);
      const decoder = new OpusPacketDecoder(16000, 1);
      const tone = sine({ freqHz: 1000, sampleRateHz: 16000, length: 16000, amplitudeDbfs: -12 });
      const out = new Int16Array(tone.length);
      let bytes = 0;
      for (let i = 0; i < tone.length; i += 320) {
        const packet = encoder.encode(tone.subarray(i, i + 320));
        bytes += packet.length;
        out.set(decoder.decode(packet), i);
      }
      // 24 kb/s: 3,000 bytes a second, give or take what VBR spends on a steady tone.
      expect(bytes).toBeGreaterThan(1000);
      expect(bytes).toBeLessThan(4500);
      expect(toneLevelDb(out.subarray(4000), 16000, 1000)).toBeCloseTo(-12, 0);
    },
  );

  it.each([-1, 11, 2.5, Number.NaN])('refuses complexity %s', (c) => {
    expect(() => new OpusPacketEncoder(16000, 1, c)).toThrow(RangeError);
  });

  it('spends bits by rate and channels: 24 kb/s for 16 kHz mono, half as much again for stereo', () => {
    expect(opusBitrate(8000, 1)).toBe(16_000);
    expect(opusBitrate(16000, 1)).toBe(24_000);
    expect(opusBitrate(16000, 2)).toBe(36_000);
    expect(opusBitrate(48000, 1)).toBe(48_000);
  });
});
