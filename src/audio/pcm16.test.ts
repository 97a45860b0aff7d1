import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deinterleaveStereo,
  readPcm16le,
  readPcm16leBytewise,
  writePcm16le,
  writePcm16leBytewise,
} from './pcm16.js';

/** A Node Buffer holding `bytes` at byte offset `offset` inside a larger ArrayBuffer (often odd). */
function bufferAt(bytes: Uint8Array, offset: number): Buffer {
  const backing = new ArrayBuffer(offset + bytes.length + 3);
  const buf = Buffer.from(backing, offset, bytes.length);
  buf.set(bytes);
  return buf;
}

function referenceRead(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength >> 1 }, (_, i) => view.getInt16(2 * i, true));
}

const bytesAtOffset = fc.record({ bytes: fc.uint8Array({ maxLength: 401 }), offset: fc.nat({ max: 7 }) });
const samples = fc
  .array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 300 })
  .map((a) => Int16Array.from(a));
const readers = [readPcm16le, readPcm16leBytewise];
const writers = [writePcm16le, writePcm16leBytewise];

describe('pcm16', () => {
  it('reads little-endian samples from buffers at any byte offset', () => {
    fc.assert(
      fc.property(bytesAtOffset, fc.nat({ max: 3 }), ({ bytes, offset }, dstOffset) => {
        const src = bufferAt(bytes, offset);
        for (const read of readers) {
          const dst = new Int16Array(dstOffset + (bytes.length >> 1));
          expect(read(src, dst, dstOffset)).toBe(bytes.length >> 1);
          expect([...dst.subarray(dstOffset)]).toEqual(referenceRead(src));
          expect([...dst.subarray(0, dstOffset)]).toEqual(new Array(dstOffset).fill(0));
        }
      }),
    );
  });

  it('writes little-endian bytes at any byte offset and reads them back unchanged', () => {
    fc.assert(
      fc.property(samples, fc.nat({ max: 7 }), (pcm, offset) => {
        for (const write of writers) {
          const dst = bufferAt(new Uint8Array(pcm.length * 2), offset);
          expect(write(pcm, dst)).toBe(pcm.length * 2);
          expect(referenceRead(dst)).toEqual([...pcm]);
          const back = new Int16Array(pcm.length);
          readPcm16le(dst, back);
          expect(back).toEqual(pcm);
        }
      }),
    );
  });

  it('reads from a source that overlaps the destination memory', () => {
    const dst = Int16Array.of(1, 2, 3, 4);
    const src = new Uint8Array(dst.buffer, 1, 4);
    const expected = referenceRead(Uint8Array.from(src));
    readPcm16le(src, dst, 1);
    expect([...dst.subarray(1, 3)]).toEqual(expected);
  });

  it('ignores a trailing odd byte and clamps to the room in dst instead of throwing', () => {
    const src = bufferAt(Uint8Array.of(1, 0, 2, 0, 3), 1);
    for (const read of readers) {
      expect(read(src, new Int16Array(4))).toBe(2);
      const small = new Int16Array(2);
      expect(read(src, small, 1)).toBe(1);
      expect([...small]).toEqual([0, 1]);
      expect(read(src, small, 5)).toBe(0);
    }
    for (const write of writers) {
      const out = new Uint8Array(5);
      expect(write(Int16Array.of(-1, -1, -1), out, 2)).toBe(2);
      expect([...out]).toEqual([0, 0, 0xff, 0xff, 0]);
    }
  });

  it('de-interleaves stereo into left and right', () => {
    fc.assert(
      fc.property(samples, (interleaved) => {
        const frames = interleaved.length >> 1;
        const left = new Int16Array(frames);
        const right = new Int16Array(frames);
        expect(deinterleaveStereo(interleaved, left, right)).toBe(frames);
        for (let i = 0; i < frames; i++) {
          expect(left[i]).toBe(interleaved[2 * i]);
          expect(right[i]).toBe(interleaved[2 * i + 1]);
        }
      }),
    );
    expect(deinterleaveStereo(Int16Array.of(1, 2, 3, 4), new Int16Array(1), new Int16Array(5))).toBe(1);
  });
});
