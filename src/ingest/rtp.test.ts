import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dominantFrequencies, maxLevelExcludingDb } from '../../test/helpers/spectrum.js';
import { decodeAlaw, decodeMulaw } from '../audio/g711.js';
import { readPcm16be, readPcm16le } from '../audio/pcm16.js';
import {
  isRtpFormat,
  parseRtpHeader,
  RTP_FORMATS,
  RTP_OTHER_SOURCE,
  type RtpDatagram,
  RtpDatagramParser,
  type RtpFormat,
  RtpIgnored,
  RtpInvalid,
  RtpOrder,
  type RtpPacket,
  RtpRefused,
  RtpSequencer,
  RtpSourceLatch,
  rtpWireFormat,
} from './rtp.js';

const FIXTURES = new URL('../../test/fixtures/platforms/rtp/', import.meta.url);

interface Capture {
  readonly name: string;
  readonly payloadType: number;
  readonly datagrams: readonly Buffer[];
}

function readCapture(name: string): Capture {
  const lines = readFileSync(new URL(`${name}.jsonl`, FIXTURES), 'utf8')
    .trim()
    .split('\n');
  const header = JSON.parse(lines[0]).capture as { payloadType: number };
  const datagrams = lines.slice(1).map((line) => Buffer.from(JSON.parse(line).b64 as string, 'base64'));
  return { name, payloadType: header.payloadType, datagrams };
}

interface Built {
  readonly version?: number;
  readonly marker?: boolean;
  readonly payloadType?: number;
  readonly seq?: number;
  readonly ts?: number;
  readonly ssrc?: number;
  readonly csrcs?: readonly number[];
  /** Extension: profile-defined 16 bits and its 32-bit words. */
  readonly extension?: { readonly profile: number; readonly words: readonly number[] };
  readonly payload?: Uint8Array;
  /** Padding bytes to append (the last one holds the count). */
  readonly padding?: number;
}

/** An RTP datagram built by hand, field by field (RFC 3550 §5.1). */
function rtp(b: Built = {}): Buffer {
  const csrcs = b.csrcs ?? [];
  const ext = b.extension;
  const payload = b.payload ?? Buffer.alloc(160, 0xff);
  const pad = b.padding ?? 0;
  const headerBytes = 12 + 4 * csrcs.length + (ext ? 4 + 4 * ext.words.length : 0);
  const out = Buffer.alloc(headerBytes + payload.length + pad);
  out[0] = ((b.version ?? 2) << 6) | (pad > 0 ? 0x20 : 0) | (ext ? 0x10 : 0) | csrcs.length;
  out[1] = (b.marker ? 0x80 : 0) | (b.payloadType ?? 0);
  out.writeUInt16BE(b.seq ?? 1, 2);
  out.writeUInt32BE(b.ts ?? 0, 4);
  out.writeUInt32BE(b.ssrc ?? 0x1234_5678, 8);
  let o = 12;
  for (const c of csrcs) o = out.writeUInt32BE(c, o);
  if (ext) {
    o = out.writeUInt16BE(ext.profile, o);
    o = out.writeUInt16BE(ext.words.length, o);
    for (const w of ext.words) o = out.writeUInt32BE(w, o);
  }
  Buffer.from(payload).copy(out, o);
  if (pad > 0) out[out.length - 1] = pad;
  return out;
}

function audioOf(result: RtpDatagram): RtpPacket {
  if (result.kind !== 'audio') throw new Error(`expected audio, got ${result.kind}: ${result.reason}`);
  return result.packet;
}

function decode(format: RtpFormat, payloads: readonly Buffer[]): Int16Array {
  const bps = rtpWireFormat(format).encoding === 'pcm16be' ? 2 : 1;
  const out = new Int16Array(payloads.reduce((n, p) => n + p.length / bps, 0));
  let at = 0;
  for (const p of payloads) {
    if (format === 'ulaw') at += decodeMulaw(p, out, at);
    else if (format === 'alaw') at += decodeAlaw(p, out, at);
    else at += readPcm16be(p, out, at);
  }
  return out;
}

const CAPTURES: readonly { name: string; format: RtpFormat; payloadType: number; packetSamples: number }[] = [
  { name: 'pcmu-8k', format: 'ulaw', payloadType: 0, packetSamples: 160 },
  { name: 'pcma-8k', format: 'alaw', payloadType: 8, packetSamples: 160 },
  { name: 'l16-8k', format: 'slin', payloadType: 97, packetSamples: 160 },
  { name: 'l16-16k', format: 'slin16', payloadType: 97, packetSamples: 320 },
  { name: 'pcmu-default', format: 'ulaw', payloadType: 0, packetSamples: 1024 },
];

describe('captured from ffmpeg (a real RTP sender)', () => {
  for (const { name, format, payloadType, packetSamples } of CAPTURES) {
    it(`${name}: every datagram is ${format} audio, 1 s of a 600 Hz tone, in order`, () => {
      const capture = readCapture(name);
      expect(capture.payloadType).toBe(payloadType);
      const parser = new RtpDatagramParser(format);
      const { sampleRateHz } = rtpWireFormat(format);
      const sequencer = new RtpSequencer({ clockRateHz: sampleRateHz });
      const payloads: Buffer[] = [];
      let expectedPosition = 0;
      capture.datagrams.forEach((datagram, i) => {
        const packet = audioOf(parser.parse(datagram));
        expect(packet.payloadType).toBe(payloadType);
        expect(packet.padding || packet.extension || packet.csrcCount > 0).toBe(false);
        // A view into the datagram, not a copy.
        expect(packet.payload.buffer).toBe(datagram.buffer);
        expect(packet.payload.byteOffset).toBe(datagram.byteOffset + 12);
        const samples = parser.samplesIn(packet.payload);
        if (i < capture.datagrams.length - 1) expect(samples).toBe(packetSamples);
        const order = sequencer.accept(packet.ssrc, packet.sequenceNumber, packet.timestamp, samples);
        expect(order).toBe(i === 0 ? RtpOrder.START : RtpOrder.NEXT);
        expect(sequencer.index).toBe(i);
        expect(sequencer.position).toBe(expectedPosition);
        if (packetSamples === sampleRateHz / 50) expect(sequencer.frameIndex).toBe(i);
        expectedPosition += samples;
        payloads.push(packet.payload);
      });
      if (format === 'slin') expect(parser.boundPayloadType).toBe(97);
      const pcm = decode(format, payloads);
      expect(pcm.length).toBe(sampleRateHz); // 1 s
      const [peak] = dominantFrequencies(pcm, sampleRateHz);
      expect(peak.freqHz).toBeCloseTo(600, 0);
      // lavfi's sine is 1/8 of full scale: −18 dBFS.
      expect(peak.levelDb).toBeCloseTo(-18, 0);
      expect(maxLevelExcludingDb(pcm, sampleRateHz, [600])).toBeLessThan(-60);
    });
  }

  it('L16 is big-endian: read little-endian, the tone is gone', () => {
    const capture = readCapture('l16-16k');
    const parser = new RtpDatagramParser('slin16');
    const bytes = Buffer.concat(capture.datagrams.map((d) => audioOf(parser.parse(d)).payload));
    const wrong = new Int16Array(bytes.length / 2);
    readPcm16le(bytes, wrong);
    const [peak] = dominantFrequencies(wrong, 16000, { minLevelDb: -100 });
    expect(Math.abs(peak.freqHz - 600)).toBeGreaterThan(5);
  });

  it('a capture declared in another format is refused packet by packet (counted by the caller)', () => {
    for (const datagram of readCapture('pcma-8k').datagrams) {
      expect(new RtpDatagramParser('ulaw').parse(datagram)).toEqual({
        kind: 'refused',
        reason: RtpRefused.PAYLOAD_TYPE,
      });
    }
    for (const datagram of readCapture('pcmu-8k').datagrams) {
      expect(new RtpDatagramParser('slin16').parse(datagram).kind).toBe('refused');
    }
  });
});

describe('parseRtpHeader: RFC 3550 §5.1', () => {
  it('reads every field, at their widest', () => {
    const payload = Buffer.from([1, 2, 3, 4]);
    const result = parseRtpHeader(
      rtp({ marker: true, payloadType: 127, seq: 65535, ts: 2 ** 32 - 1, ssrc: 2 ** 32 - 1, payload }),
    );
    expect(result).toEqual({
      ok: true,
      packet: {
        padding: false,
        extension: false,
        csrcCount: 0,
        marker: true,
        payloadType: 127,
        sequenceNumber: 65535,
        timestamp: 2 ** 32 - 1,
        ssrc: 2 ** 32 - 1,
        payload,
      },
    });
  });

  it('skips 1 to 15 CSRCs; refuses a list that runs past the datagram', () => {
    for (let n = 1; n <= 15; n++) {
      const csrcs = Array.from({ length: n }, (_, i) => 0xc0de_0000 + i);
      const datagram = rtp({ csrcs, payload: Buffer.from([9, 8, 7]) });
      const result = parseRtpHeader(datagram);
      if (!result.ok) throw new Error(result.reason);
      expect(result.packet.csrcCount).toBe(n);
      expect([...result.packet.payload]).toEqual([9, 8, 7]);
    }
    const datagram = rtp({ payload: Buffer.alloc(0) });
    datagram[0] |= 0x01; // one CSRC announced, none there
    expect(parseRtpHeader(datagram)).toMatchObject({ ok: false, reason: RtpInvalid.CSRC });
  });

  it('skips a header extension by its length, after the CSRCs; refuses one that runs past', () => {
    for (const words of [[], [1], [1, 2, 3, 4, 5]]) {
      const datagram = rtp({
        csrcs: [7],
        extension: { profile: 0xbede, words },
        payload: Buffer.from([0xaa, 0xbb]),
      });
      const result = parseRtpHeader(datagram);
      if (!result.ok) throw new Error(result.reason);
      expect(result.packet.extension).toBe(true);
      expect([...result.packet.payload]).toEqual([0xaa, 0xbb]);
    }
    // The extension header itself is cut.
    const cut = rtp({ payload: Buffer.from([0, 0]) });
    cut[0] |= 0x10;
    expect(parseRtpHeader(cut)).toMatchObject({ ok: false, reason: RtpInvalid.EXTENSION });
    // Its length says more words than there are.
    const long = rtp({ extension: { profile: 0x1000, words: [1] }, payload: Buffer.alloc(0) });
    long.writeUInt16BE(2, 14);
    expect(parseRtpHeader(long)).toMatchObject({ ok: false, reason: RtpInvalid.EXTENSION });
    // Exactly to the end: a valid packet with an empty payload.
    const exact = rtp({ extension: { profile: 0x1000, words: [1, 2] }, payload: Buffer.alloc(0) });
    expect(parseRtpHeader(exact)).toMatchObject({ ok: true, packet: { payload: Buffer.alloc(0) } });
  });

  it('strips padding by the count in the last byte; refuses a count of 0 or larger than the payload', () => {
    for (const pad of [1, 2, 3, 4, 255]) {
      const result = parseRtpHeader(rtp({ payload: Buffer.from([5, 6, 7, 8]), padding: pad }));
      if (!result.ok) throw new Error(result.reason);
      expect(result.packet.padding).toBe(true);
      expect([...result.packet.payload]).toEqual([5, 6, 7, 8]);
    }
    // The padding is the whole payload: an empty packet.
    const all = rtp({ payload: Buffer.alloc(0), padding: 4 });
    expect(parseRtpHeader(all)).toMatchObject({ ok: true, packet: { payload: Buffer.alloc(0) } });
    expect(new RtpDatagramParser('ulaw').parse(all)).toEqual({ kind: 'ignored', reason: RtpIgnored.EMPTY });
    // Larger than the payload (it would reach into the header).
    const over = rtp({ payload: Buffer.from([1, 2, 3]), padding: 1 });
    over[over.length - 1] = 5;
    expect(parseRtpHeader(over)).toMatchObject({ ok: false, reason: RtpInvalid.PADDING });
    // With CSRCs and an extension, the payload starts after them.
    const afterExt = rtp({
      csrcs: [1],
      extension: { profile: 1, words: [1] },
      payload: Buffer.alloc(2),
      padding: 1,
    });
    afterExt[afterExt.length - 1] = 4;
    expect(parseRtpHeader(afterExt)).toMatchObject({ ok: false, reason: RtpInvalid.PADDING });
    const zero = rtp({ payload: Buffer.from([1, 2, 3]), padding: 1 });
    zero[zero.length - 1] = 0;
    expect(parseRtpHeader(zero)).toMatchObject({ ok: false, reason: RtpInvalid.PADDING_ZERO });
  });

  it('refuses what is not RTP; reports RTCP on the port as RTCP', () => {
    expect(parseRtpHeader(Buffer.alloc(0))).toMatchObject({ ok: false, reason: RtpInvalid.SHORT });
    expect(parseRtpHeader(rtp().subarray(0, 11))).toMatchObject({ ok: false, reason: RtpInvalid.SHORT });
    for (const version of [0, 1, 3]) {
      expect(parseRtpHeader(rtp({ version }))).toMatchObject({ ok: false, reason: RtpInvalid.VERSION });
    }
    expect(parseRtpHeader(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toMatchObject({ ok: false });
    // An RTCP receiver report (PT 201) and sender report (200): version 2 too.
    for (const pt of [200, 201, 202, 203, 204]) {
      const rtcp = Buffer.alloc(28);
      rtcp[0] = 0x81;
      rtcp[1] = pt;
      expect(parseRtpHeader(rtcp)).toEqual({ ok: false, rtcp: true, reason: RtpInvalid.RTCP });
      expect(new RtpDatagramParser('ulaw').parse(rtcp)).toEqual({ kind: 'ignored', reason: RtpInvalid.RTCP });
    }
  });
});

describe('RtpDatagramParser: payload types against the declared format', () => {
  it('knows the four formats', () => {
    expect(RTP_FORMATS).toEqual(['ulaw', 'alaw', 'slin16', 'slin']);
    expect(isRtpFormat('slin16')).toBe(true);
    expect(isRtpFormat('pcm16')).toBe(false);
    expect(isRtpFormat(undefined)).toBe(false);
    expect(rtpWireFormat('ulaw')).toEqual({ encoding: 'mulaw', sampleRateHz: 8000 });
    expect(rtpWireFormat('alaw')).toEqual({ encoding: 'alaw', sampleRateHz: 8000 });
    expect(rtpWireFormat('slin')).toEqual({ encoding: 'pcm16be', sampleRateHz: 8000 });
    expect(rtpWireFormat('slin16')).toEqual({ encoding: 'pcm16be', sampleRateHz: 16000 });
    expect(() => new RtpDatagramParser('opus' as RtpFormat)).toThrow(RangeError);
    expect(() => new RtpDatagramParser('ulaw', { payloadType: 128 })).toThrow(RangeError);
  });

  it('ulaw takes PT 0 only; alaw PT 8 only', () => {
    const ulaw = new RtpDatagramParser('ulaw');
    expect(ulaw.parse(rtp({ payloadType: 0 })).kind).toBe('audio');
    for (const pt of [8, 3, 9, 10, 11, 18, 34]) {
      expect(ulaw.parse(rtp({ payloadType: pt }))).toEqual({
        kind: 'refused',
        reason: RtpRefused.PAYLOAD_TYPE,
      });
    }
    const alaw = new RtpDatagramParser('alaw');
    expect(alaw.parse(rtp({ payloadType: 8 })).kind).toBe('audio');
    expect(alaw.parse(rtp({ payloadType: 0 })).kind).toBe('refused');
    // A dynamic type beside G.711 is something else (an event): ignored, not refused.
    expect(alaw.parse(rtp({ payloadType: 96 }))).toEqual({
      kind: 'ignored',
      reason: RtpIgnored.OTHER_DYNAMIC,
    });
  });

  it('comfort noise and telephone-event are ignored in every format', () => {
    for (const format of RTP_FORMATS) {
      const parser = new RtpDatagramParser(format);
      expect(parser.parse(rtp({ payloadType: 13, payload: Buffer.from([40]) }))).toEqual({
        kind: 'ignored',
        reason: RtpIgnored.COMFORT_NOISE,
      });
      expect(parser.parse(rtp({ payloadType: 19, payload: Buffer.from([40]) })).kind).toBe('ignored');
      const event = rtp({ payloadType: 101, payload: Buffer.from([1, 0x0a, 0, 160]) });
      expect(parser.parse(event)).toEqual({ kind: 'ignored', reason: RtpIgnored.TELEPHONE_EVENT });
      // An event first does not bind L16's dynamic type.
      expect(parser.boundPayloadType).toBeNull();
    }
  });

  it('slin/slin16: the first dynamic type is bound; Asterisk static L16 10/11 accepted; G.711 refused', () => {
    for (const format of ['slin', 'slin16'] as const) {
      const parser = new RtpDatagramParser(format);
      expect(parser.parse(rtp({ payloadType: 118, payload: Buffer.alloc(640) })).kind).toBe('audio');
      expect(parser.boundPayloadType).toBe(118);
      expect(parser.parse(rtp({ payloadType: 97, payload: Buffer.alloc(640) }))).toEqual({
        kind: 'ignored',
        reason: RtpIgnored.OTHER_DYNAMIC,
      });
      expect(parser.parse(rtp({ payloadType: 118, payload: Buffer.alloc(2) })).kind).toBe('audio');
      expect(parser.parse(rtp({ payloadType: 10, payload: Buffer.alloc(320) })).kind).toBe('audio');
      expect(parser.parse(rtp({ payloadType: 11, payload: Buffer.alloc(320) })).kind).toBe('audio');
      for (const pt of [0, 8, 9, 18]) {
        expect(parser.parse(rtp({ payloadType: pt }))).toEqual({
          kind: 'refused',
          reason: RtpRefused.PAYLOAD_TYPE,
        });
      }
      // Whole samples only.
      expect(parser.parse(rtp({ payloadType: 118, payload: Buffer.alloc(321) }))).toEqual({
        kind: 'refused',
        reason: RtpRefused.ODD_BYTES,
      });
      expect(parser.samplesIn(Buffer.alloc(640))).toBe(320);
    }
  });

  it('an explicit payload type is the only audio type', () => {
    const parser = new RtpDatagramParser('slin16', { payloadType: 99 });
    expect(parser.boundPayloadType).toBe(99);
    expect(parser.parse(rtp({ payloadType: 99, payload: Buffer.alloc(4) })).kind).toBe('audio');
    expect(parser.parse(rtp({ payloadType: 118, payload: Buffer.alloc(4) })).kind).toBe('ignored');
    expect(parser.parse(rtp({ payloadType: 10, payload: Buffer.alloc(4) })).kind).toBe('refused');
    const ulaw = new RtpDatagramParser('ulaw', { payloadType: 0 });
    expect(ulaw.parse(rtp({ payloadType: 0 })).kind).toBe('audio');
    expect(ulaw.parse(rtp({ payloadType: 8 })).kind).toBe('refused');
  });

  it('refuses more than 1 s of audio in one packet; ignores an empty one', () => {
    const ulaw = new RtpDatagramParser('ulaw');
    expect(ulaw.parse(rtp({ payload: Buffer.alloc(8000) })).kind).toBe('audio');
    expect(ulaw.parse(rtp({ payload: Buffer.alloc(8001) }))).toEqual({
      kind: 'refused',
      reason: RtpRefused.TOO_LONG,
    });
    expect(ulaw.parse(rtp({ payload: Buffer.alloc(0) }))).toEqual({
      kind: 'ignored',
      reason: RtpIgnored.EMPTY,
    });
    const slin16 = new RtpDatagramParser('slin16');
    expect(slin16.parse(rtp({ payloadType: 96, payload: Buffer.alloc(32000) })).kind).toBe('audio');
    expect(slin16.parse(rtp({ payloadType: 96, payload: Buffer.alloc(32002) })).kind).toBe('refused');
  });

  it('never throws on any bytes, and its reasons are its own words', () => {
    const reasons = new Set<string>([
      ...Object.values(RtpInvalid),
      ...Object.values(RtpIgnored),
      ...Object.values(RtpRefused),
    ]);
    const rtpShaped = fc
      .record({
        version: fc.constantFrom(2, 2, 2, 0, 1, 3),
        marker: fc.boolean(),
        payloadType: fc.integer({ min: 0, max: 127 }),
        seq: fc.integer({ min: 0, max: 65535 }),
        ts: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        csrcs: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 15 }),
        payload: fc.uint8Array({ maxLength: 700 }),
        padding: fc.integer({ min: 0, max: 255 }),
        cut: fc.integer({ min: 0, max: 40 }),
      })
      .map((b) => {
        const datagram = rtp(b);
        return datagram.subarray(0, Math.max(0, datagram.length - b.cut));
      });
    const anyBytes = fc.uint8Array({ maxLength: 1500 }).map((bytes) => Buffer.from(bytes));
    fc.assert(
      fc.property(
        fc.constantFrom(...RTP_FORMATS),
        fc.array(fc.oneof(rtpShaped, anyBytes), { maxLength: 20 }),
        (format, datagrams) => {
          const parser = new RtpDatagramParser(format);
          for (const datagram of datagrams) {
            const result = parser.parse(datagram);
            if (result.kind === 'audio') {
              const { payload } = result.packet;
              expect(payload.buffer).toBe(datagram.buffer);
              expect(payload.byteOffset).toBeGreaterThanOrEqual(datagram.byteOffset + 12);
              expect(payload.byteOffset + payload.length).toBeLessThanOrEqual(
                datagram.byteOffset + datagram.length,
              );
              expect(payload.length).toBeGreaterThan(0);
              expect(Number.isInteger(parser.samplesIn(payload))).toBe(true);
            } else {
              expect(reasons).toContain(result.reason);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('RtpSequencer', () => {
  const SSRC = 0xdead_beef;
  /** Feeds 20 ms packets at 8 kHz (timestamps 160 apart) given as sequence numbers from `seq0`/`ts0`. */
  function feed(sequencer: RtpSequencer, seqs: readonly number[], seq0 = 0, ts0 = 0, ssrc = SSRC) {
    return seqs.map((n) => {
      const order = sequencer.accept(ssrc, (seq0 + n) & 0xffff, (ts0 + 160 * n) >>> 0, 160);
      return { order, index: sequencer.index, frame: sequencer.frameIndex, lost: sequencer.lost };
    });
  }

  it('in order: indices and frames from 0', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const out = feed(s, [0, 1, 2, 3], 500, 12345);
    expect(out.map((o) => o.order)).toEqual(['start', 'next', 'next', 'next']);
    expect(out.map((o) => o.index)).toEqual([0, 1, 2, 3]);
    expect(out.map((o) => o.frame)).toEqual([0, 1, 2, 3]);
    expect(s.position).toBe(480);
    expect(s.streams).toBe(1);
  });

  it('sequence numbers and timestamps wrap; the index does not', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const n = 70_000; // more than one sequence cycle
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      const order = s.accept(SSRC, (65_530 + i) & 0xffff, (2 ** 32 - 800 + 160 * i) >>> 0, 160);
      if (order !== (i === 0 ? 'start' : 'next') || s.index !== i || s.frameIndex !== i) wrong++;
    }
    expect(wrong).toBe(0);
    expect(s.index).toBe(n - 1);
    expect(s.position).toBe(160 * (n - 1));
    expect(s.frameIndex).toBe(n - 1);
  });

  it('reordered packets keep their index, across the wrap too', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const out = feed(s, [0, 1, 3, 2, 4, 6, 5, 7], 65_533, 2 ** 32 - 320);
    expect(out.map((o) => o.order)).toEqual(['start', 'next', 'gap', 'late', 'next', 'gap', 'late', 'next']);
    expect(out.map((o) => o.index)).toEqual([0, 1, 3, 2, 4, 6, 5, 7]);
    expect(out.map((o) => o.frame)).toEqual([0, 1, 3, 2, 4, 6, 5, 7]);
  });

  it('duplicates are reported with the index they had', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const out = feed(s, [0, 0, 1, 2, 1, 2, 3, 0]);
    expect(out.map((o) => o.order)).toEqual([
      'start',
      'duplicate',
      'next',
      'next',
      'duplicate',
      'duplicate',
      'next',
      'duplicate',
    ]);
    expect(out.map((o) => o.index)).toEqual([0, 0, 1, 2, 1, 2, 3, 0]);
  });

  it('loss: a gap says how many are missing; the missing ones may still come late', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const out = feed(s, [0, 1, 5, 6, 3, 1000, 1001]);
    expect(out.map((o) => o.order)).toEqual(['start', 'next', 'gap', 'next', 'late', 'gap', 'next']);
    expect(out.map((o) => o.lost)).toEqual([0, 0, 3, 0, 0, 993, 0]);
    expect(out.map((o) => o.index)).toEqual([0, 1, 5, 6, 3, 1000, 1001]);
  });

  it('a jump beyond maxDropout, or behind maxMisorder, is a stray until the next packet follows it', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    feed(s, [0, 1, 2], 100, 1000);
    // One stray packet (a jump of 5000), then the stream goes on: nothing changes.
    expect(s.accept(SSRC, 5102, 99, 160)).toBe('stray');
    expect(s.accept(SSRC, 103, 1000 + 480, 160)).toBe('next');
    expect(s.index).toBe(3);
    // Too far behind to be reordering.
    expect(s.accept(SSRC, 100 - 200, 1000, 160)).toBe('stray');
    // The sender restarted: 40000, 40001 … — the second confirms a new stream, which continues the index.
    expect(s.accept(SSRC, 40_000, 777, 160)).toBe('stray');
    expect(s.accept(SSRC, 40_001, 937, 160)).toBe('start');
    expect(s.streams).toBe(2);
    expect(s.index).toBe(4);
    expect(s.position).toBe(4 * 160);
    expect(s.accept(SSRC, 40_002, 1097, 160)).toBe('next');
    expect(s.index).toBe(5);
    expect(s.frameIndex).toBe(5);
  });

  it('a jump of exactly maxDropout is loss, one more is a stray', () => {
    const s = new RtpSequencer({ clockRateHz: 8000, maxDropout: 1000 });
    feed(s, [0]);
    expect(s.accept(SSRC, 1000, 160_000, 160)).toBe('gap');
    expect(s.lost).toBe(999);
    expect(s.accept(SSRC, 2001, 320_160, 160)).toBe('stray');
  });

  it('a new SSRC starts a new stream at once, continuing the index and position', () => {
    const s = new RtpSequencer({ clockRateHz: 16000 });
    for (let i = 0; i < 3; i++) s.accept(1, 10 + i, 320 * i, 320);
    expect(s.accept(2, 60_000, 5, 320)).toBe('start');
    expect(s.index).toBe(3);
    expect(s.position).toBe(960);
    expect(s.frameIndex).toBe(3);
    // The old SSRC again: another stream.
    expect(s.accept(1, 13, 960, 320)).toBe('start');
    expect(s.streams).toBe(3);
    expect(s.index).toBe(4);
  });

  it('packets from before the stream began are dropped', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const out = feed(s, [5, 4, 6, 3], 65_534);
    expect(out.map((o) => o.order)).toEqual(['start', 'before-start', 'next', 'before-start']);
    // Timestamped before the stream's first packet, though numbered after it.
    expect(s.accept(SSRC, (65_534 + 7) & 0xffff, 160 * 5 - 1, 160)).toBe('before-start');
  });

  it('the frame index follows timestamps when packets are not 20 ms', () => {
    const s = new RtpSequencer({ clockRateHz: 8000 });
    const frames: number[] = [];
    for (let i = 0; i < 5; i++) {
      s.accept(SSRC, i, 1024 * i, 1024);
      frames.push(s.frameIndex);
    }
    expect(frames).toEqual([0, 6, 12, 19, 25]);
  });

  it('checks its options', () => {
    expect(() => new RtpSequencer({ clockRateHz: 8001 })).toThrow(RangeError);
    expect(() => new RtpSequencer({ clockRateHz: 8000, maxMisorder: 5000 })).toThrow(RangeError);
    expect(() => new RtpSequencer({ clockRateHz: 8000, maxDropout: 40_000 })).toThrow(RangeError);
  });

  it('property: any local reordering with duplicates and loss: each packet keeps its index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.boolean(), fc.boolean()), {
          minLength: 1,
          maxLength: 300,
        }),
        (seq0, ts0, jitter) => {
          // Packet k is sent unless dropped, delayed by up to 8 places, sometimes twice.
          const arrivals = jitter
            .map(([delay, drop, twice], k) => ({ k, at: k + delay, drop, twice }))
            .filter((p) => !p.drop)
            .flatMap((p) => (p.twice ? [p, { ...p, at: p.at + 0.5 }] : [p]))
            .sort((a, b) => a.at - b.at || a.k - b.k);
          if (arrivals.length === 0) return;
          const s = new RtpSequencer({ clockRateHz: 8000 });
          const first = arrivals[0].k;
          const used = new Set<number>();
          for (const { k } of arrivals) {
            const order = s.accept(SSRC, (seq0 + k) & 0xffff, (ts0 + 160 * k) >>> 0, 160);
            if (k < first) {
              expect(order).toBe('before-start');
              continue;
            }
            expect(s.index).toBe(k - first);
            expect(s.frameIndex).toBe(k - first);
            expect(Number.isSafeInteger(s.index)).toBe(true);
            if (used.has(k)) expect(order).toBe('duplicate');
            else expect(['start', 'next', 'gap', 'late']).toContain(order);
            used.add(k);
          }
          expect(s.streams).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: never throws, indices stay safe, non-negative integers whatever arrives', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 3 }),
            fc.integer({ min: -70_000, max: 70_000 }),
            fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
            fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.constantFrom(Number.NaN, Infinity)),
          ),
          { maxLength: 200 },
        ),
        (packets) => {
          const s = new RtpSequencer({ clockRateHz: 16000 });
          for (const [ssrc, seq, ts, samples] of packets) {
            expect(Object.values(RtpOrder)).toContain(s.accept(ssrc, seq, ts, samples));
            for (const n of [s.index, s.position, s.frameIndex, s.lost, s.streams]) {
              expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('RtpSourceLatch', () => {
  it('latches the first source; others are ignored with a reason', () => {
    const latch = new RtpSourceLatch();
    expect(latch.source).toBeNull();
    expect(latch.isLatched('10.0.0.5', 4000)).toBe(false);
    expect(latch.admit('10.0.0.5', 4000)).toEqual({ admitted: true, latched: true });
    expect(latch.source).toEqual({ address: '10.0.0.5', port: 4000 });
    expect(latch.admit('10.0.0.5', 4000)).toEqual({ admitted: true, latched: false });
    // A second source: another port on the same host, or another host on the same port.
    expect(latch.admit('10.0.0.5', 4002)).toEqual({ admitted: false, reason: RTP_OTHER_SOURCE });
    expect(latch.admit('10.0.0.6', 4000)).toEqual({ admitted: false, reason: RTP_OTHER_SOURCE });
    // A dual-stack socket's IPv4-mapped form is the same source.
    expect(latch.admit('::ffff:10.0.0.5', 4000)).toEqual({ admitted: true, latched: false });
    expect(latch.isLatched('::FFFF:10.0.0.5', 4000)).toBe(true);
    expect(latch.source).toEqual({ address: '10.0.0.5', port: 4000 });
  });

  it('with the parser: invalid datagrams do not latch, and a second source never reaches the sequencer', () => {
    const parser = new RtpDatagramParser('ulaw');
    const latch = new RtpSourceLatch();
    const sequencer = new RtpSequencer({ clockRateHz: 8000 });
    const counts = { audio: 0, ignored: 0, refused: 0, invalid: 0, otherSource: 0 };
    const receive = (datagram: Buffer, address: string, port: number) => {
      const result = parser.parse(datagram);
      if (result.kind !== 'audio') return void counts[result.kind]++;
      if (!latch.admit(address, port).admitted) return void counts.otherSource++;
      counts.audio++;
      sequencer.accept(result.packet.ssrc, result.packet.sequenceNumber, result.packet.timestamp, 160);
    };
    receive(Buffer.from('not rtp at all'), '192.0.2.9', 9);
    receive(rtp({ payloadType: 8 }), '192.0.2.8', 8);
    expect(latch.source).toBeNull();
    receive(rtp({ seq: 1 }), '192.0.2.1', 5004);
    receive(rtp({ seq: 1, ssrc: 99 }), '192.0.2.2', 5004);
    receive(rtp({ seq: 2, ts: 160 }), '192.0.2.1', 5004);
    expect(counts).toEqual({ audio: 2, ignored: 0, refused: 1, invalid: 1, otherSource: 1 });
    expect(sequencer.streams).toBe(1);
    expect(sequencer.index).toBe(1);
  });
});
