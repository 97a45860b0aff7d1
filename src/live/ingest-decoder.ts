import { decodeAlaw, decodeMulaw } from '../audio/g711.js';
import { deinterleaveStereo, readPcm16be, readPcm16le } from '../audio/pcm16.js';
import type { WireEncoding } from '../ingest/platform-stream.js';
import type { IngestTrack } from './ingest-track.js';

const isWanted = (track: IngestTrack): boolean => track.wanted;

/**
 * Turns validated ingest message bytes into per-channel PCM16 samples at the source rate, reusing
 * its buffers (the returned arrays are valid until the next call).
 */
export class IngestDecoder {
  readonly #encoding: WireEncoding;
  readonly #bytesPerSample: 1 | 2;
  readonly #channels: 1 | 2;
  #interleaved = new Int16Array(0);
  #left = new Int16Array(0);
  #right = new Int16Array(0);

  /** Every generic ingest encoding, and the platforms' big-endian L16 (`pcm16be`). */
  constructor(encoding: WireEncoding, channels: 1 | 2) {
    this.#encoding = encoding;
    this.#bytesPerSample = encoding === 'pcm16' || encoding === 'pcm16be' ? 2 : 1;
    this.#channels = channels;
  }

  /**
   * Feeds `bytes` to `tracks`, channel i to track i. While none of them is heard (IngestTrack.wanted)
   * they get only the sample count (`skip`): the frames are counted, nothing is decoded.
   */
  feed(bytes: Uint8Array, tracks: readonly IngestTrack[]): void {
    if (!tracks.some(isWanted)) {
      const samples = Math.floor(bytes.length / this.#bytesPerSample / this.#channels);
      for (let i = 0; i < tracks.length; i++) tracks[i].skip(samples);
      return;
    }
    const channels = this.decode(bytes);
    for (let i = 0; i < tracks.length; i++) tracks[i].write(channels[i]);
  }

  /** Decodes `bytes` (a whole number of sample frames); returns one array per channel. */
  decode(bytes: Uint8Array): Int16Array[] {
    const total = this.#bytesPerSample === 2 ? bytes.length >> 1 : bytes.length;
    if (this.#interleaved.length < total) this.#interleaved = new Int16Array(total);
    const all = this.#interleaved.subarray(0, total);
    if (this.#encoding === 'pcm16') readPcm16le(bytes, all);
    else if (this.#encoding === 'pcm16be') readPcm16be(bytes, all);
    else if (this.#encoding === 'mulaw') decodeMulaw(bytes, all);
    else decodeAlaw(bytes, all);
    if (this.#channels === 1) return [all];
    const perChannel = total >> 1;
    if (this.#left.length < perChannel) {
      this.#left = new Int16Array(perChannel);
      this.#right = new Int16Array(perChannel);
    }
    const left = this.#left.subarray(0, perChannel);
    const right = this.#right.subarray(0, perChannel);
    deinterleaveStereo(all, left, right);
    return [left, right];
  }
}
