import { describe, expect, it } from 'vitest';
import { sine } from '../../test/helpers/signals.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.js';

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ALL_SAMPLES = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

function decodeAll(decode: typeof decodeMulaw): Int16Array {
  const out = new Int16Array(256);
  decode(ALL_CODES, out);
  return out;
}

function snrDb(reference: Int16Array, actual: Int16Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i] ** 2;
    noise += (reference[i] - actual[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

const laws = [
  // codeOfStep: the 7-bit code (sign bit clear) of the n-th magnitude step, 0 = smallest.
  {
    name: 'μ-law',
    decode: decodeMulaw,
    encode: encodeMulaw,
    max: 32124,
    codeOfStep: (n: number) => 0x7f - n,
  },
  { name: 'A-law', decode: decodeAlaw, encode: encodeAlaw, max: 32256, codeOfStep: (n: number) => n ^ 0x55 },
] as const;

describe('g711', () => {
  it('decodes the ITU reference values', () => {
    const mu = decodeAll(decodeMulaw);
    expect([mu[0xff], mu[0x7f], mu[0x00], mu[0x80], mu[0xfe], mu[0x7e]]).toEqual([
      0, 0, -32124, 32124, 8, -8,
    ]);
    const a = decodeAll(decodeAlaw);
    expect([a[0xd5], a[0x55], a[0xaa], a[0x2a]]).toEqual([8, -8, 32256, -32256]);
  });

  it('encodes the ITU reference values', () => {
    const out = new Uint8Array(4);
    encodeMulaw(Int16Array.of(0, -32768, 32767, -1), out);
    expect([...out]).toEqual([0xff, 0x00, 0x80, 0x7f]);
    encodeAlaw(Int16Array.of(0, -1, 32767, -32768), out);
    expect([...out]).toEqual([0xd5, 0x55, 0xaa, 0x2a]);
  });

  for (const law of laws) {
    describe(law.name, () => {
      it('round-trips every code through decode and encode', () => {
        const bytes = new Uint8Array(256);
        law.encode(decodeAll(law.decode), bytes);
        for (let code = 0; code < 256; code++) {
          // μ-law has two zeros (0xFF = +0, 0x7F = −0); both decode to 0, which encodes as +0.
          const expected = law.name === 'μ-law' && code === 0x7f ? 0xff : code;
          expect(bytes[code], `code 0x${code.toString(16)}`).toBe(expected);
        }
      });

      it('decodes strictly monotonically in magnitude and symmetrically in sign', () => {
        const linear = decodeAll(law.decode);
        for (let step = 1; step < 128; step++) {
          const code = law.codeOfStep(step) | 0x80;
          expect(linear[code]).toBeGreaterThan(linear[law.codeOfStep(step - 1) | 0x80]);
        }
        expect(linear[law.codeOfStep(127) | 0x80]).toBe(law.max);
        for (const code of ALL_CODES) expect(linear[code] + linear[code ^ 0x80]).toBe(0);
      });

      it('encodes all 65 536 samples monotonically with bounded error', () => {
        const bytes = new Uint8Array(ALL_SAMPLES.length);
        law.encode(ALL_SAMPLES, bytes);
        const back = new Int16Array(bytes.length);
        law.decode(bytes, back);
        for (let i = 1; i < back.length; i++) {
          if (back[i] < back[i - 1]) throw new Error(`not monotonic at sample ${ALL_SAMPLES[i]}`);
        }
        // Codes decode to the middle of their interval: error ≤ half the largest step (1024 LSB) in range.
        let worst = 0;
        for (let i = 0; i < back.length; i++) {
          const s = Math.max(-law.max, Math.min(law.max, ALL_SAMPLES[i]));
          worst = Math.max(worst, Math.abs(back[i] - s));
        }
        expect(worst).toBeLessThanOrEqual(512);
      });

      it('keeps a sine above 35 dB SNR through a round trip', () => {
        for (const amplitudeDbfs of [-1, -10, -20]) {
          const signal = sine({ freqHz: 1013, sampleRateHz: 8000, length: 8000, amplitudeDbfs });
          const bytes = new Uint8Array(signal.length);
          const back = new Int16Array(signal.length);
          law.encode(signal, bytes);
          law.decode(bytes, back);
          expect(snrDb(signal, back)).toBeGreaterThan(35);
        }
      });

      it('writes at an offset and clamps to the room in dst instead of throwing', () => {
        const dst = new Int16Array(5);
        expect(law.decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff), dst, 3)).toBe(2);
        expect(law.decode(Uint8Array.of(1), dst, 9)).toBe(0);
        const bytes = new Uint8Array(3);
        expect(law.encode(new Int16Array(10), bytes, 1)).toBe(2);
      });
    });
  }
});
