import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { allocBinaryFrame } from './ws-frame.js';

/** Parses frames with the ws library's own receiver, as a client would. */
function parse(bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // ws exports its frame parser at run time; its type declarations do not list it.
    const { Receiver } = wsModule as unknown as {
      Receiver: new (o: object) => NodeJS.EventEmitter & { write(b: Buffer): void };
    };
    const receiver = new Receiver({ isServer: false, binaryType: 'nodebuffer' });
    receiver.on('message', (data: Buffer, isBinary: boolean) =>
      isBinary ? resolve(data) : reject(new Error('text')),
    );
    receiver.on('error', reject);
    receiver.write(bytes);
  });
}

describe('allocBinaryFrame', () => {
  for (const size of [0, 125, 126, 640, 65535, 65536, 100_000]) {
    it(`builds a frame a WebSocket client parses back to the same ${size}-byte payload`, async () => {
      const { frame, payloadOffset } = allocBinaryFrame(size);
      for (let i = 0; i < size; i++) frame[payloadOffset + i] = (i * 7) & 0xff;
      const payload = await parse(frame);
      expect(payload.length).toBe(size);
      expect(payload.equals(frame.subarray(payloadOffset))).toBe(true);
    });
  }

  it('frames a 640-byte listener message with a 4-byte header', () => {
    expect(allocBinaryFrame(640).payloadOffset).toBe(4);
  });
});
