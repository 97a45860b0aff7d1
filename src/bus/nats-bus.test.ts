import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  natsAvailable,
  TEST_NATS_URL,
  throwawayNats,
  uniquePrefix,
} from '../../test/helpers/nats.js';
import type { TrackFrame } from '../domain/audio-format.js';
import type { CallEvent } from './bus.js';
import { type BusDropReason, NatsBus } from './nats-bus.js';
import { encodeToken } from './nats-subjects.js';
import { encodeTrackFrame } from './track-frame-codec.js';

const silent = pino({ level: 'silent' });

function frame(callPk: string, seq: number, participant = 'caller'): TrackFrame {
  return { callPk, participant, seq, captureTimeMs: Date.now(), samples: new Int16Array(320).fill(seq) };
}

async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Whether the NATS server has interest in `subject` (a request with no subscriber gets 503 at once). */
async function hasInterest(nc: NatsConnection, subject: string): Promise<boolean> {
  try {
    await nc.request(subject, undefined, { timeout: 200 });
    return true;
  } catch (err) {
    return !/no responders/i.test(String((err as Error).message) + String((err as Error).name));
  }
}

describe('NatsBus: start-up', () => {
  it('fails fast, naming the servers, when no NATS server answers', async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(
      NatsBus.connect({ servers: [`nats://127.0.0.1:${port}`], prefix: 'earshot', log: silent }),
    ).rejects.toThrow(`cannot connect to NATS at nats://127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a prefix that is not whole subject tokens', async () => {
    await expect(NatsBus.connect({ servers: [TEST_NATS_URL], prefix: 'a.*', log: silent })).rejects.toThrow(
      /prefix/,
    );
  });

  it('encodes participant names as single subject tokens', () => {
    expect(encodeToken('caller')).toBe('caller');
    expect(encodeToken('agent.v2')).toBe('agent%2Ev2');
    expect(encodeToken('a b*>%')).toBe('a%20b%2A%3E%25');
  });
});

describe.skipIf(!natsAvailable)('NatsBus on the shared NATS server', () => {
  const prefix = uniquePrefix();
  let raw: NatsConnection;
  const buses: NatsBus[] = [];
  const open = async (onFrameDropped?: (r: BusDropReason) => void) => {
    const bus = await NatsBus.connect({ servers: [TEST_NATS_URL], prefix, log: silent, onFrameDropped });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    raw = await connect({ servers: TEST_NATS_URL });
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });
  afterAll(async () => {
    await raw?.close();
  });

  it('delivers same-node frames in process, by reference, exactly once (its own NATS echo is suppressed)', async () => {
    const bus = await open();
    const got: TrackFrame[] = [];
    bus.subscribeFrames('call1', (f) => got.push(f));
    await bus.ping();
    const f = frame('call1', 0);
    bus.publishFrame(f);
    expect(got).toHaveLength(1);
    expect(got[0]).toBe(f);
    await bus.ping();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toHaveLength(1);
  });

  it('publishes frames on <prefix>.audio.track.v1.<call>.<participant token> in the v1 binary format', async () => {
    const bus = await open();
    const seen: { subject: string; size: number }[] = [];
    const sub = raw.subscribe(`${prefix}.audio.track.v1.call2.*`, {
      callback: (_e, m) => {
        seen.push({ subject: m.subject, size: m.data.length });
      },
    });
    await raw.flush();
    bus.publishFrame(frame('call2', 0, 'agent.v2'));
    await eventually(() =>
      expect(seen).toEqual([{ subject: `${prefix}.audio.track.v1.call2.agent%2Ev2`, size: 16 + 8 + 640 }]),
    );
    sub.unsubscribe();
  });

  it('holds one NATS subscription per call while it has local subscribers, and none after the last leaves', async () => {
    const bus = await open();
    const subject = `${prefix}.audio.track.v1.call3.caller`;
    expect(await hasInterest(raw, subject)).toBe(false);
    const got: number[] = [];
    const off1 = bus.subscribeFrames('call3', (f) => got.push(f.seq));
    const off2 = bus.subscribeFrames('call3', (f) => got.push(f.seq));
    await bus.ping();
    raw.publish(subject, encodeTrackFrame(frame('call3', 1)));
    await eventually(() => expect(got).toEqual([1, 1]));
    off1();
    await bus.ping();
    expect(await hasInterest(raw, subject)).toBe(true);
    off2();
    await bus.ping();
    expect(await hasInterest(raw, subject)).toBe(false);
  });

  it('drops and counts malformed frames and events from the wire; nothing reaches subscribers', async () => {
    const dropped: BusDropReason[] = [];
    const bus = await open((r) => dropped.push(r));
    const frames: TrackFrame[] = [];
    const events: CallEvent[] = [];
    bus.subscribeFrames('call4', (f) => frames.push(f));
    bus.subscribeCallEvents('call4', (e) => events.push(e));
    await bus.ping();
    raw.publish(`${prefix}.audio.track.v1.call4.caller`, 'garbage');
    raw.publish(`${prefix}.call.call4.events`, '{"type":"explode"}');
    raw.publish(`${prefix}.call.call4.events`, 'not json');
    // A revocation whose selector is malformed must not widen into "close every listener".
    raw.publish(`${prefix}.call.call4.events`, '{"type":"revoked","tokenHashes":"a1"}');
    raw.publish(`${prefix}.call.call4.events`, '{"type":"revoked","tokenHashes":[1]}');
    raw.publish(`${prefix}.call.call4.events`, '{"type":"revoked","tokenHashes":null}');
    raw.publish(`${prefix}.call.call4.events`, '{"type":"revoked","apiKeyPrefix":7}');
    raw.publish(`${prefix}.call.call4.events`, '{"type":"revoked","tokenHashes":["a1"],"extra":1}');
    // A takeover whose connection id is malformed could close the new connection itself: dropped.
    raw.publish(
      `${prefix}.call.call4.events`,
      '{"type":"participant","name":"a","state":"joined","connectionId":7}',
    );
    raw.publish(
      `${prefix}.call.call4.events`,
      '{"type":"participant","name":"a","state":"joined","connectionId":""}',
    );
    raw.publish(
      `${prefix}.call.call4.events`,
      '{"type":"participant","name":"b","state":"joined","connectionId":"c1"}',
    );
    raw.publish(`${prefix}.call.call4.events`, '{"type":"ended"}');
    await eventually(() =>
      expect(events).toEqual([
        { type: 'revoked', tokenHashes: ['a1'] },
        { type: 'participant', name: 'b', state: 'joined', connectionId: 'c1' },
        { type: 'ended' },
      ]),
    );
    expect(frames).toEqual([]);
    expect(dropped).toEqual(['bus_malformed']);
  });

  it('answers stats queries with every local answer for the call', async () => {
    const bus = await open();
    bus.answerCallStats('call5', () => ({ listeners: 3, tracks: [], heard: [] }));
    await bus.ping();
    const reply = await raw.request(`${prefix}.call.call5.stats`, undefined, { timeout: 1000 });
    expect(reply.json()).toEqual([{ listeners: 3, tracks: [], heard: [] }]);
  });
});

describe.skipIf(!natsAvailable)('NatsBus through a NATS outage (own nats-server)', () => {
  it('keeps same-node delivery, drops and counts cross-node frames, and resumes by itself', async () => {
    const nats = await throwawayNats();
    const prefix = uniquePrefix();
    const dropped: BusDropReason[] = [];
    const a = await NatsBus.connect({
      servers: [nats.url],
      prefix,
      log: silent,
      onFrameDropped: (r) => dropped.push(r),
      reconnectMaxMs: 500,
    });
    const b = await NatsBus.connect({ servers: [nats.url], prefix, log: silent, reconnectMaxMs: 500 });
    try {
      const local: number[] = [];
      const remote: number[] = [];
      a.subscribeFrames('c', (f) => local.push(f.seq));
      b.subscribeFrames('c', (f) => remote.push(f.seq));
      await Promise.all([a.ping(), b.ping()]);
      a.publishFrame(frame('c', 0));
      await eventually(() => expect(remote).toEqual([0]));

      await nats.stop();
      await eventually(() => expect(a.connected).toBe(false));
      await expect(a.ping()).rejects.toThrow();
      for (let seq = 1; seq <= 10; seq++) a.publishFrame(frame('c', seq));
      expect(local).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(dropped.filter((r) => r === 'bus_unavailable')).toHaveLength(10);

      await nats.start();
      await eventually(async () => {
        expect(a.connected && b.connected).toBe(true);
        await a.ping();
      }, 10_000);
      await eventually(async () => {
        a.publishFrame(frame('c', 11));
        expect(remote).toContain(11);
      }, 10_000);
      expect(remote).not.toContain(5);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await nats.stop();
    }
  });
});
