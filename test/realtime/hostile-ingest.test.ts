import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BystanderReport, startBystander } from '../helpers/bystander.js';
import { hostileFrame, Op, sendAndCheck } from '../helpers/frame-fuzz.js';
import { createLiveCall, type LiveCall } from '../helpers/live-call.js';
import { closePayload, connectRawWs, rawFrame } from '../helpers/raw-ws.js';
import { startServerProcess } from '../helpers/server-process.js';

/**
 * The ingest sockets (generic and Twilio) face platforms and PBXs, and whoever else reaches them:
 * a malformed WebSocket frame closes that one socket with the protocol's close code, and nothing
 * else on the server notices (SPEC §4.3). The same frames as the listener test, less those an
 * ingest socket legitimately receives (audio, text).
 */
const { TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION } = Op;
const bytes = (n: number) => Buffer.alloc(n, 0x61);

const CASES: [string, number, Buffer[]][] = [
  ['a 2^63-byte length', 1009, [rawFrame({ opcode: BINARY, declaredLength: 2n ** 63n })]],
  ['RSV1 without an extension', 1002, [rawFrame({ opcode: BINARY, rsv: 4, payload: bytes(4) })]],
  ['an unmasked frame', 1002, [rawFrame({ opcode: BINARY, mask: false, payload: bytes(4) })]],
  ['reserved opcode 0x3', 1002, [rawFrame({ opcode: 0x3, payload: bytes(2) })]],
  ['text that is not UTF-8', 1007, [rawFrame({ opcode: TEXT, payload: Buffer.from([0xc3, 0x28]) })]],
  ['close code 1005', 1002, [rawFrame({ opcode: CLOSE, payload: closePayload(1005) })]],
  ['a 126-byte ping', 1002, [rawFrame({ opcode: PING, payload: bytes(126) })]],
  ['a fragmented ping', 1002, [rawFrame({ opcode: PING, fin: false })]],
  ['a continuation with nothing to continue', 1002, [rawFrame({ opcode: CONTINUATION, payload: bytes(2) })]],
];

describe('hostile frames on ingest sockets', () => {
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let call: LiveCall;
  let bystander: Awaited<ReturnType<typeof startBystander>>;
  const ingestUrl = () => call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000');
  const twilioUrl = () => `${server.url.replace('http', 'ws')}/ws/twilio`;

  beforeAll(async () => {
    server = await startServerProcess();
    bystander = await startBystander(server, server.apiKey);
    call = await createLiveCall(server, server.apiKey);
  });
  afterAll(async () => {
    await bystander?.stop();
    expect(server.node.child.exitCode, 'the server process exited').toBeNull();
    await server?.close();
  });

  for (const [endpoint, url] of [
    ['generic ingest', () => ingestUrl()],
    ['Twilio', () => twilioUrl()],
  ] as const) {
    it.each(CASES)(`${endpoint}: %s is closed with %i`, async (_name, code, frames) => {
      const conn = await connectRawWs(url());
      conn.send(Buffer.concat(frames));
      expect(await conn.closed).toBe(code);
    });

    it(`${endpoint}: random frame sequences (fast-check) end only that socket`, async () => {
      const frame = hostileFrame(
        [BINARY, PING, PONG, CONTINUATION],
        [TEXT, CLOSE],
        fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 60 }), async (sequence) => {
          await sendAndCheck(url(), sequence);
        }),
        { numRuns: 200 },
      );
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    }, 60_000);
  }

  it('the bystander call heard no gap over 100 ms through all of it', async () => {
    const report: BystanderReport = await bystander.stop();
    bystander = { ...bystander, stop: async () => report };
    expect(report.closed).toBeNull();
    expect(report.gaps, `gaps over 100 ms (max ${report.maxGapMs} ms)`).toEqual([]);
  });
});
