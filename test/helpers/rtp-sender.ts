import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { encodeAlaw, encodeMulaw } from '../../src/audio/g711.js';
import { sine } from './signals.js';

/**
 * RTP senders for the RTP port tests (SPEC §4.6): ffmpeg's RTP muxer (a real client nobody here
 * wrote), and hand-made packets for what ffmpeg never does (reorder, duplicate, lose, a second
 * source, garbage).
 */

/** Whether ffmpeg is here; under CI=true its absence fails the suite (.ci/run installs it). */
export function hasFfmpeg(): boolean {
  if (['/usr/bin/ffmpeg', '/usr/local/bin/ffmpeg'].some((p) => existsSync(p))) return true;
  if (process.env.CI === 'true') throw new Error('ffmpeg (Debian ffmpeg) is required under CI=true');
  console.warn('[skip] ffmpeg not installed: the RTP tests with a real sender are skipped');
  return false;
}

export interface FfmpegRtp {
  readonly codec: 'pcm_mulaw' | 'pcm_alaw' | 'pcm_s16be';
  readonly rateHz: number;
  readonly toneHz: number;
  readonly seconds: number;
  /** Samples per packet (20 ms: what Asterisk sends); omitted: ffmpeg's own framing (1024). */
  readonly samplesPerPacket?: number;
}

/**
 * Streams a lavfi sine (−18 dBFS: 1/8 of full scale) to 127.0.0.1:`port` in real time with
 * `ffmpeg -re … -f rtp`; resolves when ffmpeg exits 0.
 */
export function ffmpegRtp(port: number, spec: FfmpegRtp): Promise<void> {
  const frame = spec.samplesPerPacket === undefined ? '' : `:samples_per_frame=${spec.samplesPerPacket}`;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=${spec.toneHz}:sample_rate=${spec.rateHz}:duration=${spec.seconds}${frame}`,
    '-ar',
    String(spec.rateHz),
    '-ac',
    '1',
    '-c:a',
    spec.codec,
    '-f',
    'rtp',
    `rtp://127.0.0.1:${port}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr.slice(-500)}`)),
    );
  });
}

/** One RTP packet (RFC 3550 §5.1, version 2, no CSRCs, no extension unless given). */
export function rtpPacket(fields: {
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
  marker?: boolean;
  csrcs?: number;
  /** Words of header extension (RFC 8285 one-byte profile 0xBEDE). */
  extensionWords?: number;
  /** Padding bytes (1…255), the last holding the count. */
  padding?: number;
}): Buffer {
  const csrcs = fields.csrcs ?? 0;
  const ext = fields.extensionWords;
  const pad = fields.padding ?? 0;
  const header = 12 + 4 * csrcs + (ext === undefined ? 0 : 4 + 4 * ext);
  const packet = Buffer.alloc(header + fields.payload.length + pad);
  packet[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (ext === undefined ? 0 : 0x10) | csrcs;
  packet[1] = (fields.marker ? 0x80 : 0) | fields.payloadType;
  packet.writeUInt16BE(fields.seq & 0xffff, 2);
  packet.writeUInt32BE(fields.timestamp >>> 0, 4);
  packet.writeUInt32BE(fields.ssrc >>> 0, 8);
  for (let i = 0; i < csrcs; i++) packet.writeUInt32BE(0x1000 + i, 12 + 4 * i);
  if (ext !== undefined) {
    const at = 12 + 4 * csrcs;
    packet.writeUInt16BE(0xbede, at);
    packet.writeUInt16BE(ext, at + 2);
  }
  packet.set(fields.payload, header);
  if (pad > 0) packet[packet.length - 1] = pad;
  return packet;
}

/** 20 ms payloads of a sine in one of the RTP formats (−12 dBFS). */
export function tonePayloads(
  format: 'ulaw' | 'alaw' | 'slin16',
  toneHz: number,
  seconds: number,
): { payloads: Buffer[]; samplesPerPacket: number; payloadType: number } {
  const rate = format === 'slin16' ? 16000 : 8000;
  const per = rate / 50;
  const samples = sine({ freqHz: toneHz, sampleRateHz: rate, length: rate * seconds, amplitudeDbfs: -12 });
  const payloads: Buffer[] = [];
  for (let i = 0; i + per <= samples.length; i += per) {
    const chunk = samples.subarray(i, i + per);
    if (format === 'slin16') {
      const bytes = Buffer.alloc(2 * per);
      for (let k = 0; k < per; k++) bytes.writeInt16BE(chunk[k], 2 * k);
      payloads.push(bytes);
    } else {
      const bytes = new Uint8Array(per);
      (format === 'ulaw' ? encodeMulaw : encodeAlaw)(chunk, bytes);
      payloads.push(Buffer.from(bytes));
    }
  }
  return { payloads, samplesPerPacket: per, payloadType: { ulaw: 0, alaw: 8, slin16: 118 }[format] };
}

/** A UDP socket on 127.0.0.1 (an ephemeral port): one RTP source. */
export async function udpSource(): Promise<Socket & { sendTo(port: number, datagram: Uint8Array): void }> {
  const socket = createSocket('udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return Object.assign(socket, {
    sendTo(port: number, datagram: Uint8Array) {
      socket.send(datagram, port, '127.0.0.1');
    },
  });
}

/**
 * Sends `slots` on a 20 ms deadline clock: each slot is the datagrams sent at once in that 20 ms
 * (empty: a lost packet; two: a reorder or a duplicate).
 */
export async function sendSlots(slots: readonly (() => void)[]): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < slots.length; i++) {
    const wait = start + i * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    slots[i]();
  }
}
