import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory-bus.js';
import { Metrics } from '../observability/metrics.js';
import type { IngestConnection } from './call-presence.js';
import { Clock, type TickHandler } from './clock.js';
import { IngestTrack } from './ingest-track.js';
import type { ListenerSink } from './listener.js';
import { DEFAULT_LISTENER_FORMAT } from './listener-options.js';
import { LiveRegistry } from './live-registry.js';

/** Takeover of a participant (SPEC §4.1) as the registry sees it, one node, events as a cluster sends them. */

function setup(clock = new Clock()) {
  const bus = new MemoryBus();
  const metrics = new Metrics({ countActiveCalls: async () => 0 });
  const registry = new LiveRegistry({ bus, clock, metrics, log: pino({ level: 'silent' }) });
  const events: Record<string, unknown>[] = [];
  const listener: ListenerSink = {
    format: { ...DEFAULT_LISTENER_FORMAT, events: true },
    tokenHash: 'h',
    closed: false,
    send: () => 'sent',
    sendEvent: (e: Record<string, unknown>) => events.push({ ...e }),
    close: () => {},
    onClose: () => {},
    cork: () => {},
    uncork: () => {},
  } as unknown as ListenerSink;
  registry.addListener('call-1', listener);
  return { bus, clock, metrics, registry, events };
}

class FakeConnection implements IngestConnection {
  readonly tracks: IngestTrack[] = [];
  readonly closes: [number, string][] = [];
  readonly frames: number[] = [];
  constructor(
    readonly id: string,
    names: string[],
    callPk = 'call-1',
  ) {
    for (const name of names)
      this.tracks.push(
        new IngestTrack(
          callPk,
          name,
          { encoding: 'pcm16', sampleRateHz: 16000 },
          (f) => this.frames.push(f.seq),
          id,
        ),
      );
  }
  close(code: number, reason: string) {
    this.closes.push([code, reason]);
  }
}

const gauge = async (m: Metrics) => (await m.participants.get()).values[0]?.value ?? 0;

describe('LiveRegistry: participant takeover', () => {
  let clock: Clock | null = null;
  afterEach(() => clock?.stop());

  it('closes the older local connection with 4002, stops its track at once, and announces no `left`', async () => {
    const s = setup();
    clock = s.clock;
    const old = new FakeConnection('c-old', ['caller', 'agent']);
    s.registry.addIngest('call-1', old);
    for (const t of old.tracks) s.registry.addTrack(t);
    const newer = new FakeConnection('c-new', ['caller']);
    s.registry.addIngest('call-1', newer);
    s.registry.addTrack(newer.tracks[0]);

    expect(old.closes).toEqual([[4002, 'replaced']]);
    expect(newer.closes).toEqual([]);
    old.tracks[0].write(new Int16Array(640));
    expect(old.frames).toEqual([]);
    newer.tracks[0].write(new Int16Array(640));
    expect(newer.frames).toEqual([0, 1]);
    // The old socket's close event: its other participant leaves, the one taken over does not.
    s.registry.removeIngest('call-1', old);
    expect(s.events).toEqual([
      { type: 'participant', name: 'caller', state: 'joined' },
      { type: 'participant', name: 'agent', state: 'joined' },
      { type: 'participant', name: 'caller', state: 'joined' },
      { type: 'participant', name: 'agent', state: 'left' },
    ]);
    expect(await gauge(s.metrics)).toBe(1);
    expect(s.registry.nodeStats('call-1').tracks.map((t) => [t.name, t.connected])).toEqual([
      ['caller', true],
      ['agent', false],
    ]);
  });

  it('closes its own connection when another node announces a newer one, never the newer one itself', () => {
    const s = setup();
    clock = s.clock;
    const local = new FakeConnection('c-here', ['caller']);
    s.registry.addIngest('call-1', local);
    s.registry.addTrack(local.tracks[0]);
    // The same connection's own joined (as echoed) changes nothing; another node's takes it over.
    const joined = (name: string, connectionId: string) =>
      s.bus.publishCallEvent('call-1', { type: 'participant', name, state: 'joined', connectionId });
    joined('caller', 'c-here');
    expect(local.closes).toEqual([]);
    joined('other', 'c-x');
    expect(local.closes).toEqual([]);
    joined('caller', 'c-there');
    expect(local.closes).toEqual([[4002, 'replaced']]);
    s.registry.removeIngest('call-1', local);
    expect(s.events.filter((e) => e.name === 'caller').map((e) => e.state)).toEqual([
      'joined',
      'joined',
      'joined',
    ]);
  });

  it('does not announce a stale `left` of a connection taken over elsewhere, nor leak connection ids to listeners', () => {
    const s = setup();
    clock = s.clock;
    const pub = (state: 'joined' | 'left', connectionId: string) =>
      s.bus.publishCallEvent('call-1', { type: 'participant', name: 'caller', state, connectionId });
    pub('joined', 'a');
    pub('joined', 'b');
    pub('left', 'a'); // node A closed before it heard b's joined; arrives late
    pub('left', 'b');
    s.bus.publishCallEvent('call-1', { type: 'participant', name: 'caller', state: 'left' });
    expect(s.events).toEqual([
      { type: 'participant', name: 'caller', state: 'joined' },
      { type: 'participant', name: 'caller', state: 'joined' },
      { type: 'participant', name: 'caller', state: 'left' },
      { type: 'participant', name: 'caller', state: 'left' },
    ]);
  });
});

/** A clock that ticks when the test says so. */
function manualClock() {
  const handlers = new Set<TickHandler>();
  let tick = 0;
  const clock = {
    add: (h: TickHandler) => handlers.add(h),
    remove: (h: TickHandler) => handlers.delete(h),
  } as unknown as Clock;
  const run = (n = 1) => {
    for (let i = 0; i < n; i++) for (const h of handlers) h(tick++, 0);
  };
  return { clock, run };
}

describe('LiveRegistry: a participant that leaves', () => {
  it('plays out what the room holds of it when its `left` is heard, counting no loss after its last frame', () => {
    const ticks = manualClock();
    const s = setup(ticks.clock);
    const connection = new FakeConnection('c-1', []);
    const track = new IngestTrack(
      'call-1',
      'caller',
      { encoding: 'pcm16', sampleRateHz: 16000 },
      (f) => s.bus.publishFrame(f),
      'c-1',
    );
    connection.tracks.push(track);
    s.registry.addIngest('call-1', connection);
    s.registry.addTrack(track);
    const tone = new Int16Array(320).fill(1000);
    for (let i = 0; i < 10; i++) {
      track.write(tone);
      ticks.run();
    }
    // Its last message carries three frames; then the socket closes.
    track.write(new Int16Array(3 * 320).fill(1000));
    s.registry.removeIngest('call-1', connection);
    ticks.run(20);
    // (Its tone also made it `speaking`: only the participant events are this test's.)
    expect(s.events.filter((e) => e.type === 'participant').map((e) => e.state)).toEqual(['joined', 'left']);
    expect(s.registry.nodeStats('call-1').heard).toEqual([
      { name: 'caller', framesLate: 0, framesLost: 0, bufferMs: 0 },
    ]);
  });

  it('does not end the stream on a stale `left` of a connection that was taken over', () => {
    const ticks = manualClock();
    const s = setup(ticks.clock);
    const pub = (state: 'joined' | 'left', connectionId: string) =>
      s.bus.publishCallEvent('call-1', { type: 'participant', name: 'caller', state, connectionId });
    pub('joined', 'a');
    pub('joined', 'b');
    for (let seq = 0; seq < 3; seq++)
      s.bus.publishFrame({
        callPk: 'call-1',
        participant: 'caller',
        seq,
        captureTimeMs: 0,
        samples: new Int16Array(320).fill(1000),
      });
    pub('left', 'a'); // from a node that had not heard b's joined: b's stream goes on
    ticks.run(12);
    // Its next frames are still expected: the buffer waits for them until it gives up (6 slots).
    expect(s.registry.nodeStats('call-1').heard).toEqual([
      { name: 'caller', framesLate: 0, framesLost: 6, bufferMs: 0 },
    ]);
  });
});
