import { createRequire } from 'node:module';

/**
 * Opus for listeners (SPEC §3, `encoding=opus`): each message one Opus packet, encoded once per
 * call and output format, never per listener. The codec is libopus through `@discordjs/opus` (N-API;
 * npm builds it from its bundled libopus source when no prebuilt binary can be fetched, as here):
 * the C encoder is 10–50 × faster than the WebAssembly builds, and the package is the maintained,
 * most-used binding. It is loaded on first use, so a server that never has an Opus listener never
 * loads it, and one where it failed to build refuses `encoding=opus` (400) instead of failing.
 *
 * Settings: the VoIP application (speech), complexity OPUS_COMPLEXITY, constant-quality VBR at
 * opusBitrate() — about a tenth of PCM16's bytes at 16 kHz (24 kb/s: ~60 bytes per 20 ms).
 */

/**
 * The default encoder complexity (EARSHOT_OPUS_COMPLEXITY): CPU against quality. Per 20 ms of
 * speech at 16 kHz mono on the benchmark machine: 56–84 µs (0), 137–185 (5), 274–379 µs (10) across
 * runs — docs/benchmarks.md.
 */
export const OPUS_COMPLEXITY = 5;
const OPUS_SET_COMPLEXITY_REQUEST = 4010;
const OPUS_SET_SIGNAL_REQUEST = 4024;
const OPUS_SIGNAL_VOICE = 3001;

interface NativeOpus {
  encode(pcm: Buffer): Buffer;
  decode(packet: Buffer): Buffer;
  setBitrate(bitrate: number): void;
  applyEncoderCTL(ctl: number, value: number): void;
}
type NativeOpusClass = new (sampleRate: number, channels: number) => NativeOpus;

let native: NativeOpusClass | null | undefined;
let loadError: string | null = null;

function load(): NativeOpusClass | null {
  if (native !== undefined) return native;
  try {
    const require = createRequire(import.meta.url);
    native = (require('@discordjs/opus') as { OpusEncoder: NativeOpusClass }).OpusEncoder;
  } catch (err) {
    native = null;
    loadError = (err as Error).message;
  }
  return native;
}

/** Whether Opus can be encoded here (the native binding loads); else why not. */
export function opusAvailability(): { available: true } | { available: false; reason: string } {
  return load() ? { available: true } : { available: false, reason: loadError ?? 'not installed' };
}

/** The bit rate of a listener format: speech at this rate and channel count, in bits per second. */
export function opusBitrate(sampleRateHz: number, channels: 1 | 2): number {
  const mono =
    sampleRateHz <= 8000
      ? 16_000
      : sampleRateHz <= 16_000
        ? 24_000
        : sampleRateHz <= 24_000
          ? 32_000
          : 48_000;
  return channels === 2 ? Math.round(mono * 1.5) : mono;
}

/** A native libopus encoder/decoder pair for one rate and channel count, or why there is none. */
function nativeOpus(sampleRateHz: number, channels: 1 | 2): NativeOpus {
  const Opus = load();
  if (!Opus) throw new Error(`Opus is not available: ${loadError ?? 'not installed'}`);
  return new Opus(sampleRateHz, channels);
}

/** One Opus stream: PCM16 (interleaved when stereo) of a legal Opus frame size in, one packet out. */
export class OpusPacketEncoder {
  readonly #encoder: NativeOpus;

  constructor(sampleRateHz: number, channels: 1 | 2, complexity = OPUS_COMPLEXITY) {
    if (!Number.isInteger(complexity) || complexity < 0 || complexity > 10)
      throw new RangeError(`Opus complexity must be an integer 0–10, not ${complexity}`);
    this.#encoder = nativeOpus(sampleRateHz, channels);
    this.#encoder.setBitrate(opusBitrate(sampleRateHz, channels));
    this.#encoder.applyEncoderCTL(OPUS_SET_COMPLEXITY_REQUEST, complexity);
    this.#encoder.applyEncoderCTL(OPUS_SET_SIGNAL_REQUEST, OPUS_SIGNAL_VOICE);
  }

  /** Encodes `pcm` (2.5–120 ms of samples at the encoder's rate); the packet is a new Buffer. */
  encode(pcm: Int16Array): Buffer {
    return this.#encoder.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }
}

/** Decodes Opus packets back to PCM16 (tests, and Node clients that ask for Opus). */
export class OpusPacketDecoder {
  readonly #decoder: NativeOpus;

  constructor(sampleRateHz: number, channels: 1 | 2) {
    this.#decoder = nativeOpus(sampleRateHz, channels);
  }

  /** The samples of one packet, in a buffer of their own (the binding's, viewed rather than copied). */
  decode(packet: Uint8Array): Int16Array {
    const pcm = this.#decoder.decode(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
    // libopus's output comes in a buffer of its own (not Node's pool): viewed as it is.
    if (pcm.byteOffset === 0 && pcm.buffer.byteLength === pcm.byteLength) return new Int16Array(pcm.buffer);
    return new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
  }
}
