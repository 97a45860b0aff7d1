import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { natsAvailable, TEST_NATS_URL, uniquePrefix } from '../../test/helpers/nats.js';
import type { TrackFrame } from '../domain/audio-format.js';
import type { Bus, CallEvent, NodeCallStats } from './bus.js';
import { BusHub } from './bus-hub.js';
import { type HubBusMessage, IpcBus, type WorkerBusMessage } from './ipc-bus.js';
import { MemoryBus } from './memory-bus.js';
import { NatsBus } from './nats-bus.js';

/**
 * The Bus contract, run on every implementation. A "pair" is two nodes of one cluster: for the
 * in-process bus both are the same bus (one node), for NATS two connections sharing a prefix.
 * Delivery may be asynchronous, so assertions wait for it (`eventually`).
 */
interface BusKind {
  readonly name: string;
  pair(): Promise<[Bus, Bus]>;
}

const silent = pino({ level: 'silent' });
const opened: Bus[] = [];

const kinds: BusKind[] = [
  {
    name: 'MemoryBus',
    async pair() {
      const bus = new MemoryBus();
      opened.push(bus);
      return [bus, bus];
    },
  },
  {
    name: 'BusHub and a media worker on it (IpcBus)',
    async pair() {
      const hub = new BusHub();
      const worker = mediaWorkerOn(hub);
      opened.push(hub, worker);
      return [hub, worker];
    },
  },
  {
    name: 'two media workers through a BusHub (IpcBus)',
    async pair() {
      const hub = new BusHub();
      const a = mediaWorkerOn(hub);
      const b = mediaWorkerOn(hub);
      opened.push(hub, a, b);
      return [a, b];
    },
  },
];
if (natsAvailable) {
  kinds.push({
    name: 'NatsBus',
    async pair() {
      const prefix = uniquePrefix();
      const a = await NatsBus.connect({ servers: [TEST_NATS_URL], prefix, log: silent });
      const b = await NatsBus.connect({ servers: [TEST_NATS_URL], prefix, log: silent });
      opened.push(a, b);
      return [a, b];
    },
  });
}

/** A media worker's bus attached to `hub` as over IPC: asynchronous, each message a copy. */
function mediaWorkerOn(hub: BusHub): IpcBus {
  const link = {
    send: (m: HubBusMessage) => setImmediate(() => worker.receive(structuredClone(m))),
  };
  const toHub = hub.attach(link);
  const worker: IpcBus = new IpcBus((m: WorkerBusMessage) => setImmediate(() => toHub(structuredClone(m))));
  return worker;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});

async function eventually(check: () => void, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Waits until the pair is wired (a NATS subscription is live once a probe crosses). */
async function settled(a: Bus, b: Bus, callPk: string): Promise<void> {
  const seen: CallEvent[] = [];
  const off = b.subscribeCallEvents(callPk, (e) => seen.push(e));
  try {
    await eventually(() => {
      a.publishCallEvent(callPk, { type: 'participant', name: 'probe', state: 'left' });
      expect(seen.length).toBeGreaterThan(0);
    });
  } finally {
    off();
  }
}

function frame(callPk: string, participant: string, seq: number, fill: number): TrackFrame {
  const samples = new Int16Array(320);
  for (let i = 0; i < samples.length; i++) samples[i] = fill + i - 160;
  return { callPk, participant, seq, captureTimeMs: 1_700_000_000_123.5 + seq, samples };
}

/** What a handler may keep: a copy (the samples are valid only during the call). */
function keep(f: TrackFrame) {
  return { ...f, samples: Array.from(f.samples) };
}

const pk = () => `0190${Math.random().toString(16).slice(2, 10)}-test`;

describe.each(kinds)('Bus contract: $name', (kind) => {
  it('delivers a frame to the subscribers of its call on another node, intact, and to no other call', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const got: ReturnType<typeof keep>[] = [];
    const other: TrackFrame[] = [];
    b.subscribeFrames(call, (f) => got.push(keep(f)));
    b.subscribeFrames(pk(), (f) => other.push(f));
    await settled(a, b, call);
    const sent = [
      frame(call, 'caller', 0, 1000),
      frame(call, 'agent.v2', 7, -2000),
      frame(call, 'caller', 1, 32000),
    ];
    for (const f of sent) a.publishFrame(f);
    await eventually(() => expect(got).toHaveLength(3));
    expect(got).toEqual(sent.map(keep));
    expect(other).toEqual([]);
  });

  it('lets the publisher reuse its sample buffer as soon as publishFrame returns', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const got: number[][] = [];
    b.subscribeFrames(call, (f) => got.push(Array.from(f.samples.subarray(0, 2))));
    await settled(a, b, call);
    const f = frame(call, 'caller', 0, 0);
    f.samples.fill(5);
    a.publishFrame(f);
    f.samples.fill(9);
    a.publishFrame({ ...f, seq: 1 });
    await eventually(() =>
      expect(got).toEqual([
        [5, 5],
        [9, 9],
      ]),
    );
  });

  it('says whether the frames of a call are wanted: once some node subscribes, and not after (NATS cannot know: always)', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const knows = kind.name !== 'NatsBus';
    expect(a.wantsFrames(call)).toBe(!knows);
    const off = b.subscribeFrames(call, () => {});
    await eventually(() => expect(a.wantsFrames(call)).toBe(true));
    expect(b.wantsFrames(call)).toBe(true);
    off();
    await eventually(() => expect(a.wantsFrames(call)).toBe(!knows));
    expect(a.wantsFrames(pk())).toBe(!knows);
  });

  it('stops delivering after unsubscribe, and unsubscribing twice is harmless', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const frames: TrackFrame[] = [];
    const keepAlive = b.subscribeCallEvents(call, () => {});
    const off = b.subscribeFrames(call, (f) => frames.push(f));
    await settled(a, b, call);
    a.publishFrame(frame(call, 'caller', 0, 0));
    await eventually(() => expect(frames).toHaveLength(1));
    off();
    off();
    a.publishFrame(frame(call, 'caller', 1, 0));
    // Events still cross after the frames stopped, so a late frame would have arrived by now.
    await settled(a, b, call);
    expect(frames).toHaveLength(1);
    keepAlive();
  });

  it('delivers call events to every node, in order', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const onA: CallEvent[] = [];
    const onB: CallEvent[] = [];
    a.subscribeCallEvents(call, (e) => onA.push(e));
    b.subscribeCallEvents(call, (e) => onB.push(e));
    await settled(a, b, call);
    onA.length = 0;
    onB.length = 0;
    const events: CallEvent[] = [
      { type: 'participant', name: 'agent.v2', state: 'joined' },
      { type: 'participant', name: 'caller', state: 'joined', connectionId: 'c0ffee-1' },
      { type: 'participant', name: 'caller', state: 'left', connectionId: 'c0ffee-1' },
      { type: 'revoked' },
      { type: 'revoked', tokenHashes: ['a1', 'b2'] },
      { type: 'revoked', tokenHashes: [], apiKeyPrefix: 'esk_Ab3dE9fG' },
      { type: 'ended' },
    ];
    for (const e of events) a.publishCallEvent(call, e);
    await eventually(() =>
      expect(onB.filter((e) => e.type !== 'participant' || e.name !== 'probe')).toEqual(events),
    );
    expect(onA.filter((e) => e.type !== 'participant' || e.name !== 'probe')).toEqual(events);
  });

  it('gathers stats from every node that answers for the call, and nothing for other calls', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const stats = (listeners: number): NodeCallStats => ({
      listeners,
      tracks: [
        {
          name: 'caller',
          platform: 'twilio',
          encoding: 'mulaw',
          sampleRateHz: 8000,
          connected: true,
          framesIn: 10,
        },
      ],
      heard: [{ name: 'caller', framesLate: 1, framesLost: 2, bufferMs: 40 }],
    });
    a.answerCallStats(call, () => stats(1));
    const offB = b.answerCallStats(call, () => stats(2));
    await settled(a, b, call);
    const fromA = await a.gatherCallStats(call);
    expect(fromA.map((s) => s.listeners).sort()).toEqual([1, 2]);
    expect(fromA[0]).toEqual(stats(1));
    offB();
    await settled(a, b, call);
    expect((await b.gatherCallStats(call)).map((s) => s.listeners)).toEqual([1]);
    const started = performance.now();
    expect(await a.gatherCallStats(pk())).toEqual([]);
    // Nobody answers for an unknown call: the query ends at once, not at its deadline.
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('isolates a throwing handler from the publisher and the other handlers', async () => {
    const [a, b] = await kind.pair();
    const call = pk();
    const got: CallEvent[] = [];
    b.subscribeCallEvents(call, () => {
      throw new Error('boom');
    });
    b.subscribeCallEvents(call, (e) => got.push(e));
    await settled(a, b, call);
    expect(() => a.publishCallEvent(call, { type: 'ended' })).not.toThrow();
    await eventually(() => expect(got).toContainEqual({ type: 'ended' }));
  });

  it('answers ping while up, and closes idempotently', async () => {
    const [a] = await kind.pair();
    await expect(a.ping()).resolves.toBeUndefined();
    await Promise.all([a.close(), a.close()]);
    await a.close();
  });
});
