import { describe, expect, it } from 'vitest';
import type { TrackFrame } from '../domain/audio-format.js';
import { BusHub } from './bus-hub.js';
import { type HubBusMessage, IpcBus, type WorkerBusMessage } from './ipc-bus.js';

/** A worker on the hub with synchronous links that record every message crossing them. */
function worker(hub: BusHub) {
  const up: WorkerBusMessage[] = [];
  const down: HubBusMessage[] = [];
  let toHub: (m: WorkerBusMessage) => void = () => {};
  const bus = new IpcBus((m) => {
    up.push(m);
    toHub(m);
  });
  const link = {
    send: (m: HubBusMessage) => {
      down.push(m);
      bus.receive(m);
    },
  };
  toHub = hub.attach(link);
  return { bus, up, down, link };
}

const frame = (callPk: string, seq: number): TrackFrame => ({
  callPk,
  participant: 'caller',
  seq,
  captureTimeMs: 1,
  samples: new Int16Array(320).fill(seq),
});

describe('BusHub relaying between media workers', () => {
  it('keeps a call placed whole on one worker off the channel: its frames never cross', () => {
    const hub = new BusHub();
    const a = worker(hub);
    worker(hub);
    const heard: number[] = [];
    a.bus.subscribeFrames('call-1', (f) => heard.push(f.seq));
    for (let seq = 0; seq < 50; seq++) a.bus.publishFrame(frame('call-1', seq));
    expect(heard).toHaveLength(50);
    expect(a.up.filter((m) => m.t === 'frame')).toEqual([]);
  });

  it("forwards a call's frames from the worker that ingests it to the one that mixes it, and stops when it leaves", () => {
    const hub = new BusHub();
    const ingesting = worker(hub);
    const mixing = worker(hub);
    const heard: number[] = [];
    const off = mixing.bus.subscribeFrames('call-1', (f) => heard.push(f.samples[0]));
    ingesting.bus.publishFrame(frame('call-1', 7));
    ingesting.bus.publishFrame(frame('call-2', 8));
    expect(heard).toEqual([7]);
    off();
    ingesting.bus.publishFrame(frame('call-1', 9));
    expect(heard).toEqual([7]);
    expect(ingesting.up.filter((m) => m.t === 'frame')).toHaveLength(1);
  });

  it('tells a worker that joins later which calls others mix, and forgets a worker that exits', () => {
    const hub = new BusHub();
    const mixing = worker(hub);
    mixing.bus.subscribeFrames('call-1', () => {});
    const late = worker(hub);
    expect(late.down).toContainEqual({ t: 'wanted', callPk: 'call-1', on: true });
    late.bus.publishFrame(frame('call-1', 1));
    expect(late.up.filter((m) => m.t === 'frame')).toHaveLength(1);
    // The mixing worker exits: nobody else mixes the call, so the late one stops forwarding.
    hub.detach(mixing.link);
    expect(late.down.at(-1)).toEqual({ t: 'wanted', callPk: 'call-1', on: false });
    late.bus.publishFrame(frame('call-1', 2));
    expect(late.up.filter((m) => m.t === 'frame')).toHaveLength(1);
    hub.detach({ send: () => {} }); // an unknown link: harmless
  });

  it('never sends an event back to the worker that published it', () => {
    const hub = new BusHub();
    const a = worker(hub);
    const b = worker(hub);
    const onA: string[] = [];
    const onB: string[] = [];
    a.bus.subscribeCallEvents('call-1', (e) => onA.push(e.type));
    b.bus.subscribeCallEvents('call-1', (e) => onB.push(e.type));
    a.bus.publishCallEvent('call-1', { type: 'ended' });
    expect(onA).toEqual(['ended']);
    expect(onB).toEqual(['ended']);
    expect(a.down.filter((m) => m.t === 'event')).toEqual([]);
  });
});
