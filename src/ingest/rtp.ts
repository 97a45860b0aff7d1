import type { WireFormat } from './platform-stream.js';

/**
 * RTP (RFC 3550) as it reaches earshot's RTP ports (SPEC §4.6: Asterisk ExternalMedia over UDP, an
 * SBC or media server forking a call leg's RTP). Three pure pieces, no I/O, no timers, never a throw
 * on what a datagram holds; the UDP server, the port pool and `POST /v1/calls/{id}/rtp` are the
 * wiring's (see test/fixtures/platforms/rtp/README.md, "How it plugs in"):
 *
 * - {@link RtpDatagramParser}: one UDP datagram → the RTP header fields and the payload (a view into
 *   the datagram, no copy), checked against the format the caller declared; or why it is no audio.
 * - {@link RtpSequencer}: sequence numbers (16 bits, wrapping) and timestamps (32 bits, wrapping) →
 *   a never-wrapping packet index, sample position and 20 ms frame index for the track buffer;
 *   reordered packets keep their place, duplicates are told apart, a jump starts a new stream.
 * - {@link RtpSourceLatch}: the first source that sends valid RTP is the port's; others are ignored.
 *
 * This is not a `PlatformParser` (./platform-stream.ts): UDP has no connection, no
 * start message and no end; the declaration (`format`, `participant`) comes from the API call.
 */

/** What `POST /v1/calls/{id}/rtp` may declare (SPEC §4.6). */
export type RtpFormat = 'ulaw' | 'alaw' | 'slin16' | 'slin';
export const RTP_FORMATS: readonly RtpFormat[] = Object.freeze(['ulaw', 'alaw', 'slin16', 'slin']);

export function isRtpFormat(value: unknown): value is RtpFormat {
  return typeof value === 'string' && (RTP_FORMATS as readonly string[]).includes(value);
}

/** The wire format of each declared format: L16 is network byte order (RFC 3551 §4.5.11). */
const WIRE_FORMATS: Readonly<Record<RtpFormat, WireFormat>> = Object.freeze({
  ulaw: Object.freeze({ encoding: 'mulaw', sampleRateHz: 8000 }),
  alaw: Object.freeze({ encoding: 'alaw', sampleRateHz: 8000 }),
  slin: Object.freeze({ encoding: 'pcm16be', sampleRateHz: 8000 }),
  slin16: Object.freeze({ encoding: 'pcm16be', sampleRateHz: 16000 }),
});

/** The wire format a declared RTP format carries (`slin`/`slin16`: big-endian PCM16). */
export function rtpWireFormat(format: RtpFormat): WireFormat {
  return WIRE_FORMATS[format];
}

/** Bytes of the fixed RTP header. */
export const RTP_HEADER_BYTES = 12;
/** RFC 3551: PCMU and PCMA have static payload types. */
export const RTP_PT_PCMU = 0;
export const RTP_PT_PCMA = 8;
/**
 * Asterisk's static table puts `slin` (8 kHz) on 10 and 11 (RFC 3551's L16 at 44.1 kHz, stereo and
 * mono) and, having no SDP with ExternalMedia, sends it on 10; `slin16` on 118 (dynamic range).
 */
const RTP_PT_L16_STATIC: readonly number[] = [10, 11];
/** Comfort noise: RFC 3389's 13, and 19 (which Asterisk also takes for CN). */
const RTP_PT_COMFORT_NOISE: readonly number[] = [13, 19];
/** RFC 4733 telephone-event: dynamic, but 101 everywhere (Asterisk's table, FreeSWITCH, Cisco). */
export const RTP_PT_TELEPHONE_EVENT = 101;
const DYNAMIC_FIRST = 96;

/** The RFC 3550 header of one packet, and its payload: a view into the datagram (valid while it is). */
export interface RtpPacket {
  readonly padding: boolean;
  readonly extension: boolean;
  readonly csrcCount: number;
  readonly marker: boolean;
  /** 0…127. */
  readonly payloadType: number;
  /** 0…65535. */
  readonly sequenceNumber: number;
  /** 0…2^32 − 1, in units of the clock rate (the sample rate, for these formats). */
  readonly timestamp: number;
  /** 0…2^32 − 1. */
  readonly ssrc: number;
  /** Bytes between the header (CSRCs and extension included) and the padding. */
  readonly payload: Buffer;
}

/** The header read, or why the datagram is not RTP. Never throws. */
export type RtpHeaderResult =
  | { readonly ok: true; readonly packet: RtpPacket }
  | { readonly ok: false; readonly rtcp: boolean; readonly reason: string };

// Reasons: our words only, never the client's bytes; short enough for a log line or a metric label.
export const RtpInvalid = Object.freeze({
  SHORT: 'shorter than an RTP header',
  VERSION: 'not RTP version 2',
  CSRC: 'CSRC list runs past the datagram',
  EXTENSION: 'header extension runs past the datagram',
  PADDING_ZERO: 'padding count of zero',
  PADDING: 'padding longer than the payload',
  RTCP: 'RTCP, not RTP',
});

function invalid(reason: string, rtcp = false): RtpHeaderResult {
  return Object.freeze({ ok: false, rtcp, reason });
}
const SHORT = invalid(RtpInvalid.SHORT);
const VERSION = invalid(RtpInvalid.VERSION);
const CSRC = invalid(RtpInvalid.CSRC);
const EXTENSION = invalid(RtpInvalid.EXTENSION);
const PADDING_ZERO = invalid(RtpInvalid.PADDING_ZERO);
const PADDING = invalid(RtpInvalid.PADDING);
const RTCP = invalid(RtpInvalid.RTCP, true);

/**
 * Reads one datagram's RFC 3550 header (§5.1): version 2; CSRC count × 4 bytes after the fixed
 * header; with X, a 4-byte extension header whose second half counts the 32-bit words that follow
 * (skipped, whatever its profile); with P, the last byte counts the padding bytes, itself included
 * (0 is refused, as is more than the payload holds). A second byte of 192–223 is RTCP multiplexed
 * onto the port (RFC 5761 §4: those are RTCP's packet types; RTP types 64–95 with the marker set
 * would look the same and are not used), reported as such. The payload is a view, not a copy.
 */
export function parseRtpHeader(datagram: Buffer): RtpHeaderResult {
  const length = datagram.length;
  if (length < RTP_HEADER_BYTES) return SHORT;
  const b0 = datagram[0];
  if (b0 >> 6 !== 2) return VERSION;
  const b1 = datagram[1];
  if (b1 >= 192 && b1 <= 223) return RTCP;
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_BYTES + 4 * csrcCount;
  if (offset > length) return CSRC;
  const extension = (b0 & 0x10) !== 0;
  if (extension) {
    if (offset + 4 > length) return EXTENSION;
    offset += 4 + 4 * datagram.readUInt16BE(offset + 2);
    if (offset > length) return EXTENSION;
  }
  const padding = (b0 & 0x20) !== 0;
  let end = length;
  if (padding) {
    const count = datagram[length - 1];
    if (count === 0) return PADDING_ZERO;
    if (count > length - offset) return PADDING;
    end -= count;
  }
  return {
    ok: true,
    packet: {
      padding,
      extension,
      csrcCount,
      marker: (b1 & 0x80) !== 0,
      payloadType: b1 & 0x7f,
      sequenceNumber: datagram.readUInt16BE(2),
      timestamp: datagram.readUInt32BE(4),
      ssrc: datagram.readUInt32BE(8),
      payload: datagram.subarray(offset, end),
    },
  };
}

/**
 * What one datagram is to a port that expects `format`:
 * - `audio`: RTP in the declared format, a non-empty payload of whole samples, at most 1 s.
 * - `ignored`: RTP (or RTCP) that carries no audio for earshot: RTCP on the RTP port, comfort noise,
 *   a telephone-event or other dynamic type beside the audio, an empty payload (a keep-alive).
 * - `refused`: RTP whose payload type contradicts the declared format, or whose payload cannot be
 *   that format's audio (an odd L16 byte count, over 1 s).
 * - `invalid`: not RTP.
 * The caller drops and counts everything but `audio` (SPEC §4.6); only `audio` latches a source.
 */
export type RtpDatagram =
  | { readonly kind: 'audio'; readonly packet: RtpPacket }
  | { readonly kind: 'ignored' | 'refused' | 'invalid'; readonly reason: string };

export const RtpIgnored = Object.freeze({
  COMFORT_NOISE: 'comfort noise',
  TELEPHONE_EVENT: 'telephone-event payload type',
  OTHER_DYNAMIC: 'another dynamic payload type',
  EMPTY: 'empty payload',
});
export const RtpRefused = Object.freeze({
  PAYLOAD_TYPE: 'payload type does not match the declared format',
  ODD_BYTES: 'L16 payload of an odd byte count',
  TOO_LONG: 'payload longer than 1 s of audio',
});

function verdict(kind: 'ignored' | 'refused' | 'invalid', reason: string): RtpDatagram {
  return Object.freeze({ kind, reason });
}
const INVALID_VERDICTS: ReadonlyMap<string, RtpDatagram> = new Map(
  Object.values(RtpInvalid).map((reason) => [
    reason,
    verdict(reason === RtpInvalid.RTCP ? 'ignored' : 'invalid', reason),
  ]),
);
const COMFORT_NOISE = verdict('ignored', RtpIgnored.COMFORT_NOISE);
const TELEPHONE_EVENT = verdict('ignored', RtpIgnored.TELEPHONE_EVENT);
const OTHER_DYNAMIC = verdict('ignored', RtpIgnored.OTHER_DYNAMIC);
const EMPTY = verdict('ignored', RtpIgnored.EMPTY);
const WRONG_TYPE = verdict('refused', RtpRefused.PAYLOAD_TYPE);
const ODD_BYTES = verdict('refused', RtpRefused.ODD_BYTES);
const TOO_LONG = verdict('refused', RtpRefused.TOO_LONG);

export interface RtpDatagramParserOptions {
  /**
   * The one payload type that carries the audio, where the sender's configuration says (an SDP's
   * rtpmap). Without it: PCMU 0 / PCMA 8 for `ulaw`/`alaw`; for `slin`/`slin16`, 10 and 11
   * (Asterisk's static L16) and the first dynamic type seen but 101 (telephone-event), which is
   * then bound.
   */
  readonly payloadType?: number;
}

/**
 * One RTP port's datagram reader for a declared format (SPEC §4.6). Its only state is the dynamic
 * payload type bound to L16. Never throws; per datagram it allocates the header object, its
 * wrapper and the payload view (for what is not RTP, a constant), nothing per sample.
 */
export class RtpDatagramParser {
  readonly format: RtpFormat;
  readonly wireFormat: WireFormat;
  readonly #bytesPerSample: number;
  readonly #maxPayloadBytes: number;
  readonly #fixedType: number | null;
  #dynamicType: number | null = null;

  constructor(format: RtpFormat, options: RtpDatagramParserOptions = {}) {
    if (!isRtpFormat(format)) throw new RangeError('format must be ulaw, alaw, slin16 or slin');
    const fixed = options.payloadType;
    if (fixed !== undefined && !(Number.isInteger(fixed) && fixed >= 0 && fixed <= 127))
      throw new RangeError('payloadType must be an integer 0…127');
    this.format = format;
    this.wireFormat = WIRE_FORMATS[format];
    this.#bytesPerSample = this.wireFormat.encoding === 'pcm16be' ? 2 : 1;
    this.#maxPayloadBytes = this.wireFormat.sampleRateHz * this.#bytesPerSample;
    this.#fixedType = fixed ?? null;
  }

  /** The dynamic payload type bound to L16 by the first packet that had one, or null. */
  get boundPayloadType(): number | null {
    return this.#fixedType ?? this.#dynamicType;
  }

  /** Samples in an `audio` packet's payload. */
  samplesIn(payload: Uint8Array): number {
    return payload.length / this.#bytesPerSample;
  }

  parse(datagram: Buffer): RtpDatagram {
    const header = parseRtpHeader(datagram);
    if (!header.ok) return INVALID_VERDICTS.get(header.reason) ?? verdict('invalid', RtpInvalid.VERSION);
    const { packet } = header;
    const typeVerdict = this.#checkType(packet.payloadType);
    if (typeVerdict !== null) return typeVerdict;
    const bytes = packet.payload.length;
    if (bytes === 0) return EMPTY;
    if (bytes % this.#bytesPerSample !== 0) return ODD_BYTES;
    if (bytes > this.#maxPayloadBytes) return TOO_LONG;
    return { kind: 'audio', packet };
  }

  /** Null when `pt` carries this port's audio; otherwise what the packet is. */
  #checkType(pt: number): RtpDatagram | null {
    if (this.#fixedType !== null) {
      if (pt === this.#fixedType) return null;
      if (RTP_PT_COMFORT_NOISE.includes(pt)) return COMFORT_NOISE;
      if (pt >= DYNAMIC_FIRST) return pt === RTP_PT_TELEPHONE_EVENT ? TELEPHONE_EVENT : OTHER_DYNAMIC;
      return WRONG_TYPE;
    }
    if (this.format === 'ulaw' && pt === RTP_PT_PCMU) return null;
    if (this.format === 'alaw' && pt === RTP_PT_PCMA) return null;
    if (RTP_PT_COMFORT_NOISE.includes(pt)) return COMFORT_NOISE;
    if (pt === RTP_PT_TELEPHONE_EVENT) return TELEPHONE_EVENT;
    if (pt < DYNAMIC_FIRST) {
      if (this.#bytesPerSample === 2 && RTP_PT_L16_STATIC.includes(pt)) return null;
      return WRONG_TYPE;
    }
    // Dynamic: G.711 has static types, so a dynamic one beside it is something else (an event, …).
    if (this.#bytesPerSample === 1) return OTHER_DYNAMIC;
    if (this.#dynamicType === null) this.#dynamicType = pt;
    return pt === this.#dynamicType ? null : OTHER_DYNAMIC;
  }
}

/** What {@link RtpSequencer.accept} made of a packet. */
export const RtpOrder = Object.freeze({
  /** The first packet of a stream (the first ever, a new SSRC, or a confirmed jump): use it. */
  START: 'start',
  /** The next one after the highest so far: use it. */
  NEXT: 'next',
  /** Ahead of the next expected, packets missing in between (`lost` says how many): use it. */
  GAP: 'gap',
  /** Behind the highest, not seen before (reordered, or filling a gap): use it at its index. */
  LATE: 'late',
  /** Seen already: drop. */
  DUPLICATE: 'duplicate',
  /**
   * Too far from the stream to be reordering or loss (> maxDropout ahead, > maxMisorder behind):
   * dropped, unless the next packet follows it, which then starts a new stream (RFC 3550 A.1).
   */
  STRAY: 'stray',
  /** Behind the stream's first packet, or timestamped before it: drop. */
  BEFORE_START: 'before-start',
});
export type RtpOrder = (typeof RtpOrder)[keyof typeof RtpOrder];

export interface RtpSequencerOptions {
  /** The RTP clock (the sample rate here): sets the 20 ms frame. 8000 or 16000 for these formats. */
  readonly clockRateHz: number;
  /** Sequence numbers further ahead than this are a jump, not loss. Default 1000 (20 s of 20 ms). */
  readonly maxDropout?: number;
  /** Sequence numbers further behind than this are a jump, not reordering. Default 100 (2 s). */
  readonly maxMisorder?: number;
}

const SEQ_MOD = 0x1_0000;
const TS_MOD = 0x1_0000_0000;
/** Indices remembered to tell a duplicate from a late packet; more than any maxMisorder allowed. */
const HISTORY = 1024;
const FRAMES_PER_SECOND = 50;

/**
 * Turns one source's RTP sequence numbers and timestamps into numbers that never wrap, for the
 * jitter buffer (src/audio/track-buffer.ts): per used packet, `index` (packets since the first,
 * from 0, continuing across new streams), `position` (samples since the first, from the RTP
 * timestamps; a new stream continues where the longest one so far ended) and `frameIndex`
 * (`position` in 20 ms frames: the track buffer's seq when packets are 20 ms, as Asterisk's are).
 * A reordered packet keeps the index and position its sequence number and timestamp give it; a
 * duplicate is reported as such (the last {@link HISTORY} indices are remembered). All are safe
 * integers (a sequence cycle is 65 536 packets: 2^53 is out of reach). RFC 3550 A.1's rules: a
 * sequence number more than `maxDropout` ahead or `maxMisorder` behind is a stray, and starts a
 * new stream only if the next packet follows it; a new SSRC starts one at once.
 *
 * Pure, bounded (one Float64Array of {@link HISTORY}), no allocation per packet: `accept` returns a
 * constant and the numbers are read from the getters.
 */
export class RtpSequencer {
  readonly #samplesPerFrame: number;
  readonly #maxDropout: number;
  readonly #maxMisorder: number;
  /** Index held by each history slot (index % HISTORY), or −1. */
  readonly #seen = new Float64Array(HISTORY).fill(-1);
  #started = false;
  #ssrc = 0;
  /** Extended sequence number of the stream's first packet and of its highest. */
  #firstSeq = 0;
  #highestSeq = 0;
  /** Extended timestamp of the stream's first packet and of its highest-numbered one. */
  #firstTs = 0;
  #highestTs = 0;
  /** Index and position of the stream's first packet. */
  #indexBase = 0;
  #positionBase = 0;
  /** Highest index used, and the furthest position reached (a packet's end), over all streams. */
  #maxIndex = -1;
  #maxEnd = 0;
  /** A stray's sequence number + 1 (mod 2^16), or −1: the next packet equal to it starts a stream. */
  #probe = -1;
  #index = 0;
  #position = 0;
  #lost = 0;
  #streams = 0;

  constructor(options: RtpSequencerOptions) {
    const { clockRateHz, maxDropout = 1000, maxMisorder = 100 } = options;
    if (!Number.isInteger(clockRateHz) || clockRateHz < FRAMES_PER_SECOND || clockRateHz % FRAMES_PER_SECOND)
      throw new RangeError('clockRateHz must be a positive multiple of 50');
    if (!Number.isInteger(maxDropout) || maxDropout < 1 || maxDropout >= SEQ_MOD / 2)
      throw new RangeError('maxDropout must be an integer 1…32767');
    if (!Number.isInteger(maxMisorder) || maxMisorder < 1 || maxMisorder >= HISTORY)
      throw new RangeError(`maxMisorder must be an integer 1…${HISTORY - 1}`);
    this.#samplesPerFrame = clockRateHz / FRAMES_PER_SECOND;
    this.#maxDropout = maxDropout;
    this.#maxMisorder = maxMisorder;
  }

  /**
   * Index of the packet just accepted (start, next, gap, late) or found a duplicate; after a stray
   * or before-start, unchanged.
   */
  get index(): number {
    return this.#index;
  }
  /** Its position in samples (of the RTP clock) since the first stream's first packet. */
  get position(): number {
    return this.#position;
  }
  /** Its position in 20 ms frames (floor): the track buffer's seq for 20 ms packets. */
  get frameIndex(): number {
    return Math.floor(this.#position / this.#samplesPerFrame);
  }
  /** With `gap`: how many packets were skipped (they may still come, as `late`). Otherwise 0. */
  get lost(): number {
    return this.#lost;
  }
  /** Streams started so far (1 after the first packet). */
  get streams(): number {
    return this.#streams;
  }

  /**
   * One valid packet of the latched source: its SSRC, sequence number, timestamp and the samples
   * its payload holds (the timestamp span it covers). Out-of-range numbers are masked to their
   * field widths; `samples` is clamped to 0…2^31.
   */
  accept(ssrc: number, sequenceNumber: number, timestamp: number, samples: number): RtpOrder {
    const seq = sequenceNumber & 0xffff;
    const ts = timestamp >>> 0;
    const span = Number.isFinite(samples) ? Math.min(Math.max(Math.trunc(samples), 0), 2 ** 31) : 0;
    this.#lost = 0;
    if (!this.#started || ssrc >>> 0 !== this.#ssrc) return this.#start(ssrc >>> 0, seq, ts, span);
    // Signed distance from the highest sequence number, −32768…32767.
    const delta = ((seq - (this.#highestSeq % SEQ_MOD) + SEQ_MOD / 2 + SEQ_MOD) % SEQ_MOD) - SEQ_MOD / 2;
    if (delta > this.#maxDropout || delta < -this.#maxMisorder) {
      if (this.#probe === seq) return this.#start(this.#ssrc, seq, ts, span);
      this.#probe = (seq + 1) % SEQ_MOD;
      return RtpOrder.STRAY;
    }
    this.#probe = -1;
    const extSeq = this.#highestSeq + delta;
    if (extSeq < this.#firstSeq) return RtpOrder.BEFORE_START;
    // Signed distance in timestamp from the highest-numbered packet's, −2^31…2^31 − 1.
    const tsDelta = ((ts - (this.#highestTs % TS_MOD) + TS_MOD / 2 + TS_MOD) % TS_MOD) - TS_MOD / 2;
    const extTs = this.#highestTs + tsDelta;
    if (extTs < this.#firstTs) return RtpOrder.BEFORE_START;
    const index = this.#indexBase + (extSeq - this.#firstSeq);
    const position = this.#positionBase + (extTs - this.#firstTs);
    const slot = index % HISTORY;
    this.#index = index;
    this.#position = position;
    if (this.#seen[slot] === index) return RtpOrder.DUPLICATE;
    this.#seen[slot] = index;
    this.#maxEnd = Math.max(this.#maxEnd, position + span);
    if (delta <= 0) return RtpOrder.LATE;
    this.#highestSeq = extSeq;
    this.#highestTs = extTs;
    this.#maxIndex = Math.max(this.#maxIndex, index);
    this.#lost = delta - 1;
    return delta === 1 ? RtpOrder.NEXT : RtpOrder.GAP;
  }

  #start(ssrc: number, seq: number, ts: number, span: number): RtpOrder {
    this.#started = true;
    this.#ssrc = ssrc;
    this.#probe = -1;
    this.#streams++;
    // Extended numbers start one cycle up, so that the misorder window behind the first packet
    // stays non-negative.
    this.#firstSeq = this.#highestSeq = SEQ_MOD + seq;
    this.#firstTs = this.#highestTs = TS_MOD + ts;
    this.#indexBase = this.#maxIndex + 1;
    this.#positionBase = this.#maxEnd;
    this.#seen.fill(-1);
    this.#index = this.#indexBase;
    this.#position = this.#positionBase;
    this.#seen[this.#index % HISTORY] = this.#index;
    this.#maxIndex = this.#index;
    this.#maxEnd = this.#positionBase + span;
    return RtpOrder.START;
  }
}

/** A UDP source: address as Node's dgram gives it (`rinfo.address`), port. */
export interface RtpSource {
  readonly address: string;
  readonly port: number;
}

export type RtpLatchResult =
  | { readonly admitted: true; readonly latched: boolean }
  | { readonly admitted: false; readonly reason: string };

export const RTP_OTHER_SOURCE = 'another source is latched on this port';
const LATCHED: RtpLatchResult = Object.freeze({ admitted: true, latched: true });
const SAME: RtpLatchResult = Object.freeze({ admitted: true, latched: false });
const OTHER: RtpLatchResult = Object.freeze({ admitted: false, reason: RTP_OTHER_SOURCE });

/** `::ffff:192.0.2.1` (a dual-stack socket's IPv4) is `192.0.2.1`; IPv6 compared in lower case. */
function normalAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/**
 * The port's source rule (SPEC §4.6): the first source whose datagram was valid RTP in the declared
 * format (`audio` from {@link RtpDatagramParser}) is latched for the port's life; datagrams from any
 * other address or port are ignored, with {@link RTP_OTHER_SOURCE}. Call `admit` only for `audio`
 * (invalid, refused or ignored datagrams must not latch); check sources before sequencing.
 */
export class RtpSourceLatch {
  #address: string | null = null;
  #port = 0;

  /** The latched source, or null before the first. */
  get source(): RtpSource | null {
    return this.#address === null ? null : { address: this.#address, port: this.#port };
  }

  /** Whether a datagram from `address`:`port` is the latched source's, latching it if none is. */
  admit(address: string, port: number): RtpLatchResult {
    const normal = normalAddress(address);
    if (this.#address === null) {
      this.#address = normal;
      this.#port = port;
      return LATCHED;
    }
    return normal === this.#address && port === this.#port ? SAME : OTHER;
  }

  /** Whether `address`:`port` is the latched source (false before any): nothing changes. */
  isLatched(address: string, port: number): boolean {
    return this.#address !== null && port === this.#port && normalAddress(address) === this.#address;
  }
}
