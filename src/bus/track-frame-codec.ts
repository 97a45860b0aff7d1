import { endianness } from 'node:os';
import { FRAME_SAMPLES, type TrackFrame } from '../domain/audio-format.js';

/**
 * The wire format of one TrackFrame between nodes (NATS payload), version 1, little endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 1 | version (1) |
 * | 1 | 1 | N = participant name length in bytes (1–255) |
 * | 2 | 2 | sample count (320) |
 * | 4 | 4 | seq (uint32, wraps) |
 * | 8 | 8 | captureTimeMs (float64, ms since the epoch) |
 * | 16 | N | participant name, UTF-8 |
 * | 16+N | 2 × count | samples, PCM16 LE |
 *
 * The participant travels in the payload, not only in the subject, because names may contain `.`
 * (a NATS token separator). The call key is not in the payload: the subject carries it and a node
 * subscribes per call, so the receiving subscription already knows it.
 */
export const TRACK_FRAME_VERSION = 1;
const HEADER_BYTES = 16;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** A TrackFrame whose fields a decoder may overwrite (one per subscription, reused per message). */
export interface MutableTrackFrame {
  callPk: string;
  participant: string;
  seq: number;
  captureTimeMs: number;
  samples: Int16Array;
}

export function createScratchFrame(callPk: string): MutableTrackFrame {
  return { callPk, participant: '', seq: 0, captureTimeMs: 0, samples: new Int16Array(FRAME_SAMPLES) };
}

/** Encodes a frame into a new buffer (the publisher may reuse its samples as soon as this returns). */
export function encodeTrackFrame(frame: TrackFrame): Uint8Array {
  const nameBytes = Buffer.byteLength(frame.participant, 'utf8');
  if (nameBytes < 1 || nameBytes > 255) throw new RangeError('participant name must be 1–255 bytes');
  const count = frame.samples.length;
  // allocUnsafe slices Node's shared pool: no zero-fill, no per-frame ArrayBuffer.
  const out = Buffer.allocUnsafe(HEADER_BYTES + nameBytes + 2 * count);
  out[0] = TRACK_FRAME_VERSION;
  out[1] = nameBytes;
  out.writeUInt16LE(count, 2);
  out.writeUInt32LE(frame.seq >>> 0, 4);
  out.writeDoubleLE(frame.captureTimeMs, 8);
  out.write(frame.participant, HEADER_BYTES, 'utf8');
  const at = HEADER_BYTES + nameBytes;
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(frame.samples.buffer, frame.samples.byteOffset, 2 * count), at);
  } else {
    for (let i = 0; i < count; i++) out.writeInt16LE(frame.samples[i], at + 2 * i);
  }
  return out;
}

/**
 * Decodes `data` into `into` (copying the samples into its own buffer, so `data` may be released).
 * Returns false, leaving `into` unspecified, for anything that is not a well-formed version 1
 * frame of exactly FRAME_SAMPLES samples; never throws.
 */
export function decodeTrackFrame(data: Uint8Array, into: MutableTrackFrame): boolean {
  if (data.length < HEADER_BYTES + 1 || data[0] !== TRACK_FRAME_VERSION) return false;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const nameBytes = buf[1];
  const count = buf.readUInt16LE(2);
  if (nameBytes === 0 || count !== FRAME_SAMPLES || count !== into.samples.length) return false;
  const at = HEADER_BYTES + nameBytes;
  if (buf.length !== at + 2 * count) return false;
  const captureTimeMs = buf.readDoubleLE(8);
  if (!Number.isFinite(captureTimeMs)) return false;
  into.seq = buf.readUInt32LE(4);
  into.captureTimeMs = captureTimeMs;
  into.participant = buf.toString('utf8', HEADER_BYTES, at);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(into.samples.buffer, into.samples.byteOffset, 2 * count).set(
      buf.subarray(at, at + 2 * count),
    );
  } else {
    for (let i = 0; i < count; i++) into.samples[i] = buf.readInt16LE(at + 2 * i);
  }
  return true;
}
