import fc from 'fast-check';
import { expect } from 'vitest';
import { connectRawWs, type RawFrame, rawFrame } from './raw-ws.js';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Op = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/**
 * Random client frames for fuzzing a socket: mostly `common` opcodes (so that sequences get deep
 * into a connection) with every malformation mixed in — unmasked frames, RSV bits, reserved
 * opcodes, fragmentation, any payload.
 */
export function hostileFrame(
  common: readonly number[],
  rare: readonly number[],
  payload: fc.Arbitrary<Buffer>,
) {
  return fc.record<RawFrame>({
    fin: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    rsv: fc.oneof(
      { weight: 9, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) },
    ),
    opcode: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...common) },
      { weight: 2, arbitrary: fc.constantFrom(...rare) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
    ),
    mask: fc.oneof(
      { weight: 19, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    payload,
  });
}

/**
 * Sends one sequence on a fresh connection to `url` and checks what became of the socket: still
 * serving, or closed with a protocol close code (1002, 1007, 1008, 1009, a bare close, 1003 where
 * data of the wrong kind is refused) — or with the client's own code echoed, when it sent a valid
 * close frame — or reset (null).
 */
export async function sendAndCheck(url: string, sequence: readonly RawFrame[]): Promise<void> {
  const conn = await connectRawWs(url);
  conn.send(Buffer.concat(sequence.map(rawFrame)));
  const echoed = sequence
    .filter((f) => f.opcode === Op.CLOSE && (f.payload?.length ?? 0) >= 2)
    .map((f) => f.payload?.readUInt16BE(0));
  const outcome = await Promise.race([conn.closed, new Promise((r) => setTimeout(() => r('open'), 30))]);
  conn.socket.destroy();
  if (outcome !== 'open')
    expect([1000, 1002, 1003, 1005, 1007, 1008, 1009, null, ...echoed]).toContain(outcome);
}
