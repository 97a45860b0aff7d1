import { describe, expect, it } from 'vitest';
import { FRAME_SAMPLES } from '../domain/audio-format.js';
import { CallRoom } from './call-room.js';
import type { ListenerSink, SendCounts } from './listener.js';
import { DEFAULT_LISTENER_FORMAT } from './listener-options.js';

/** A room with one listener in the default format (16 kHz mono PCM16, one message per tick). */
function setup() {
  const room = new CallRoom('call-1');
  /** The first sample of each message the listener got: which frame it carried (0: silence). */
  const heard: number[] = [];
  const listener = {
    format: DEFAULT_LISTENER_FORMAT,
    tokenHash: 'h',
    closed: false,
    send: (message: Buffer) => {
      // A 640-byte payload behind a 4-byte WebSocket header.
      heard.push(message.readInt16LE(message.length - 2 * FRAME_SAMPLES));
      return 'sent';
    },
    sendEvent: () => {},
    close: () => {},
    onClose: () => {},
    cork: () => {},
    uncork: () => {},
  } as unknown as ListenerSink;
  room.addListener(listener);
  const counts: SendCounts = { sent: 0, dropped: 0, evicted: 0 };
  /** Frame `seq` of `name`, every sample `value`. */
  const push = (name: string, seq: number, value: number) =>
    room.onFrame({
      callPk: 'call-1',
      participant: name,
      seq,
      captureTimeMs: 0,
      samples: new Int16Array(FRAME_SAMPLES).fill(value),
    });
  const tick = (n = 1) => {
    for (let i = 0; i < n; i++) room.tick(0, counts);
  };
  return { room, heard, push, tick };
}

describe('CallRoom: a participant that leaves', () => {
  it('plays out every frame still buffered when the participant leaves, and counts no loss after them', () => {
    for (const left of [true, false]) {
      const { room, heard, push, tick } = setup();
      // Ten frames in time, one per tick; then the last three arrive together, and it leaves.
      for (let seq = 0; seq < 10; seq++) {
        push('caller', seq, 100 + seq);
        tick();
      }
      for (let seq = 10; seq < 13; seq++) push('caller', seq, 100 + seq);
      if (left) room.endTrack('caller');
      tick(20);
      const frames = Array.from({ length: 13 }, (_, seq) => 100 + seq);
      if (left) {
        // All 13 frames, in order, then silence: nothing concealed, nothing counted lost.
        expect(heard).toEqual([...frames, ...Array(17).fill(0)]);
        expect(room.trackStats('caller')).toMatchObject({ framesLate: 0, framesLost: 0 });
      } else {
        // Without the leave the buffer waits for frame 13: the last frame is faded over the next
        // two slots (concealed) and the slots until it gives up (its capacity, 6) count as lost.
        expect(heard.slice(0, 13)).toEqual(frames);
        expect(heard[13]).not.toBe(0);
        expect(room.trackStats('caller')).toMatchObject({ framesLate: 0, framesLost: 6 });
      }
    }
  });

  it('plays a rejoin (a new stream, seq from 0), whether or not its joined restarted the track first', () => {
    for (const restarted of [true, false]) {
      const { room, heard, push, tick } = setup();
      for (let seq = 0; seq < 5; seq++) push('caller', 40 + seq, 100 + seq);
      room.endTrack('caller');
      tick(10);
      if (restarted) room.restartTrack('caller');
      for (let seq = 0; seq < 5; seq++) {
        push('caller', seq, 200 + seq);
        tick();
      }
      room.endTrack('caller');
      tick(5);
      expect(heard).toEqual([
        ...[100, 101, 102, 103, 104],
        ...Array(5).fill(0),
        ...[200, 201, 202, 203, 204],
        ...Array(5).fill(0),
      ]);
      expect(room.trackStats('caller')).toMatchObject({ framesLate: 0, framesLost: 0 });
    }
  });

  it('ends only the participant that left: the others keep being charged for their missing frames', () => {
    const { room, heard, push, tick } = setup();
    for (let seq = 0; seq < 3; seq++) {
      push('caller', seq, 100);
      push('agent', seq, 10);
    }
    room.endTrack('caller');
    room.endTrack('nobody'); // a participant this room never heard: nothing to end
    tick(10);
    expect(heard.slice(0, 3)).toEqual([110, 110, 110]);
    expect(room.trackStats('caller')).toMatchObject({ framesLost: 0 });
    expect(room.trackStats('agent')?.framesLost).toBeGreaterThan(0);
  });
});

describe('CallRoom: what its jitter buffers add', () => {
  it('reports each participant’s buffer delay: 20 ms in time, more after a late frame, 0 once idle', () => {
    const { room, push, tick } = setup();
    for (let seq = 0; seq < 10; seq++) {
      push('caller', seq, 100);
      tick();
    }
    // Each frame arrives just before the tick that plays it: one frame deep.
    expect(room.heardStats()).toEqual([{ name: 'caller', framesLate: 0, framesLost: 0, bufferMs: 20 }]);
    // Frame 10 is held up two ticks (its slot and the next concealed) and arrives with 11 and 12:
    // played after all, the buffer grows by its lateness, and the frames after it, in time again,
    // wait as long.
    tick(2);
    for (let seq = 10; seq < 13; seq++) push('caller', seq, 100);
    for (let seq = 13; seq < 20; seq++) {
      tick();
      push('caller', seq, 100);
    }
    expect(room.heardStats()).toEqual([{ name: 'caller', framesLate: 0, framesLost: 2, bufferMs: 60 }]);
    room.endTrack('caller');
    tick(10);
    expect(room.heardStats()[0].bufferMs).toBe(0);
  });
});
