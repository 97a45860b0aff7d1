import { describe, expect, it } from 'vitest';
import type { NodeCallStats } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory-bus.js';
import { ClusterCallStats, mergeNodeStats } from './cluster-call-stats.js';

const track = (
  name: string,
  connected: boolean,
  framesIn: number,
  encoding = 'mulaw',
  sampleRateHz = 8000,
  platform = 'generic',
) => ({
  name,
  platform,
  encoding,
  sampleRateHz,
  connected,
  framesIn,
});

describe('mergeNodeStats', () => {
  it('adds listeners up and lists each participant once, with the worst late/lost counts and buffer delay of any mixing node', () => {
    const ingestA: NodeCallStats = { listeners: 1, tracks: [track('caller', true, 100)], heard: [] };
    const ingestB: NodeCallStats = {
      listeners: 2,
      tracks: [track('agent.v2', true, 90, 'pcm16', 48000, 'telnyx')],
      heard: [
        { name: 'caller', framesLate: 3, framesLost: 1, bufferMs: 40 },
        { name: 'agent.v2', framesLate: 0, framesLost: 0, bufferMs: 20 },
      ],
    };
    const listenOnly: NodeCallStats = {
      listeners: 4,
      tracks: [],
      heard: [{ name: 'caller', framesLate: 1, framesLost: 5, bufferMs: 60 }],
    };
    expect(mergeNodeStats([ingestA, ingestB, listenOnly])).toEqual({
      listeners: 7,
      participants: [
        {
          name: 'caller',
          platform: 'generic',
          encoding: 'mulaw',
          sampleRateHz: 8000,
          connected: true,
          framesIn: 100,
          framesLate: 3,
          framesLost: 5,
          bufferMs: 60,
        },
        {
          name: 'agent.v2',
          platform: 'telnyx',
          encoding: 'pcm16',
          sampleRateHz: 48000,
          connected: true,
          framesIn: 90,
          framesLate: 0,
          framesLost: 0,
          bufferMs: 20,
        },
      ],
    });
  });

  it('merges a participant that rejoined on another node: connected there, frames_in summed', () => {
    const left: NodeCallStats = { listeners: 0, tracks: [track('caller', false, 40)], heard: [] };
    const rejoined: NodeCallStats = {
      listeners: 0,
      tracks: [track('caller', true, 10, 'pcm16', 16000, 'twilio')],
      heard: [],
    };
    expect(mergeNodeStats([left, rejoined]).participants).toEqual([
      {
        name: 'caller',
        platform: 'twilio',
        encoding: 'pcm16',
        sampleRateHz: 16000,
        connected: true,
        framesIn: 50,
        framesLate: 0,
        framesLost: 0,
        bufferMs: 0,
      },
    ]);
  });

  it('reports nothing live for no answers', () => {
    expect(mergeNodeStats([])).toEqual({ listeners: 0, participants: [] });
  });
});

describe('ClusterCallStats on the in-process bus', () => {
  it('is exactly what this node answers for the call', async () => {
    const bus = new MemoryBus();
    const stats = new ClusterCallStats(bus);
    const off = bus.answerCallStats('pk', () => ({
      listeners: 2,
      tracks: [track('caller', true, 5)],
      heard: [],
    }));
    expect(await stats.callStats('pk')).toEqual({
      listeners: 2,
      participants: [
        {
          name: 'caller',
          platform: 'generic',
          encoding: 'mulaw',
          sampleRateHz: 8000,
          connected: true,
          framesIn: 5,
          framesLate: 0,
          framesLost: 0,
          bufferMs: 0,
        },
      ],
    });
    expect(await stats.callStats('other')).toEqual({ listeners: 0, participants: [] });
    off();
    expect(await stats.callStats('pk')).toEqual({ listeners: 0, participants: [] });
  });
});
