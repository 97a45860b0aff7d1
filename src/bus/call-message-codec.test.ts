import { describe, expect, it } from 'vitest';
import type { NodeCallStats } from './bus.js';
import { parseNodeStats } from './call-message-codec.js';

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('parseNodeStats (a node’s answer to a call-stats query, off the network)', () => {
  const stats: NodeCallStats = {
    listeners: 2,
    tracks: [
      {
        name: 'caller',
        platform: 'twilio',
        encoding: 'mulaw',
        sampleRateHz: 8000,
        connected: true,
        framesIn: 50,
      },
    ],
    heard: [{ name: 'caller', framesLate: 1, framesLost: 3, bufferMs: 40 }],
  };

  it('reads back what a node sent', () => {
    expect(parseNodeStats(bytes([stats]))).toEqual([stats]);
  });

  it('reads a node from before buffer delays were reported as adding none', () => {
    const old = { ...stats, heard: [{ name: 'caller', framesLate: 1, framesLost: 3 }] };
    expect(parseNodeStats(bytes([old]))[0].heard).toEqual([
      { name: 'caller', framesLate: 1, framesLost: 3, bufferMs: 0 },
    ]);
  });

  it('leaves out what is malformed instead of throwing', () => {
    const bad = {
      ...stats,
      heard: [
        { name: 'caller', framesLate: -1, framesLost: 0 },
        { name: 7, framesLate: 0, framesLost: 0 },
        { name: 'agent', framesLate: 0, framesLost: 0, bufferMs: 'lots' },
      ],
    };
    expect(parseNodeStats(bytes([bad, { listeners: 'x' }, null]))).toEqual([
      { ...stats, heard: [{ name: 'agent', framesLate: 0, framesLost: 0, bufferMs: 0 }] },
    ]);
    expect(parseNodeStats(new TextEncoder().encode('{not json'))).toEqual([]);
  });
});
