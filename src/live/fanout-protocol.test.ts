import { describe, expect, it } from 'vitest';
import { packFrames, parseWorkerSettings, unpackFrames } from './fanout-protocol.js';

describe('fan-out frame batches', () => {
  it('unpacks what was packed, in order, with each frame intact', () => {
    const frames = new Map([
      [1, Buffer.from([0x82, 2, 0xaa, 0xbb])],
      [7, Buffer.alloc(0)],
      [4_000_000_000, Buffer.alloc(19_204, 0x5a)],
    ]);
    const packed = packFrames(frames);
    // As it arrives over IPC: a Uint8Array, possibly a view into a larger buffer.
    const carrier = new Uint8Array(packed.length + 3);
    carrier.set(packed, 3);
    const seen: [number, Buffer][] = [];
    unpackFrames(carrier.subarray(3), (group, frame) => seen.push([group, Buffer.from(frame)]));
    expect(seen).toEqual([...frames]);
  });

  it('packs nothing into an empty batch', () => {
    const seen: number[] = [];
    unpackFrames(packFrames(new Map()), (group) => seen.push(group));
    expect(seen).toEqual([]);
  });
});

describe('fan-out worker settings', () => {
  it('reads back what the main process passes', () => {
    const settings = { writeCoalescing: 'always', directWrites: 'off' } as const;
    expect(parseWorkerSettings(JSON.stringify(settings))).toEqual(settings);
  });

  it.each([undefined, '{}', '{"writeCoalescing":"auto"}', '{"writeCoalescing":"auto","directWrites":"yes"}'])(
    'refuses %j rather than running with defaults nobody chose',
    (json) => {
      expect(() => parseWorkerSettings(json)).toThrow(/bad settings/);
    },
  );
});
