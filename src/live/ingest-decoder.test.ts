import { describe, expect, it } from 'vitest';
import { decodeMulaw } from '../audio/g711.js';
import { IngestDecoder } from './ingest-decoder.js';
import { IngestTrack } from './ingest-track.js';

describe('IngestDecoder.feed', () => {
  function tracks(state: { wanted: boolean }) {
    const got: Int16Array[][] = [[], []];
    const make = (i: number) =>
      new IngestTrack(
        'call',
        `p${i}`,
        { encoding: 'mulaw', sampleRateHz: 16000 },
        (f) => got[i].push(f.samples.slice()),
        '',
        {
          wanted: () => state.wanted,
        },
      );
    return { list: [make(0), make(1)], got };
  }

  it('decodes stereo into one track per channel while heard, and only counts while not', () => {
    const state = { wanted: false };
    const { list, got } = tracks(state);
    const decoder = new IngestDecoder('mulaw', 2);
    // 320 sample frames of stereo μ-law: one 20 ms frame per channel at 16 kHz.
    const bytes = new Uint8Array(640).map((_, i) => (i % 2 === 0 ? 0x10 : 0xa0));
    decoder.feed(bytes, list);
    expect(got).toEqual([[], []]);
    expect(list.map((t) => t.framesIn)).toEqual([1, 1]);
    state.wanted = true;
    decoder.feed(bytes, list);
    const left = new Int16Array(1);
    const right = new Int16Array(1);
    decodeMulaw(new Uint8Array([0x10]), left);
    decodeMulaw(new Uint8Array([0xa0]), right);
    expect(got[0]).toEqual([new Int16Array(320).fill(left[0])]);
    expect(got[1]).toEqual([new Int16Array(320).fill(right[0])]);
    expect(list.map((t) => t.framesIn)).toEqual([2, 2]);
  });
});
