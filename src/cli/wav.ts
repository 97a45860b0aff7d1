import { type FileHandle, open } from 'node:fs/promises';

/**
 * Writing WAV files for `earshot listen`: a small streaming writer, because it appends audio for as
 * long as a call lasts and must leave a valid file whenever it stops — `wavefile` builds whole files
 * in memory. (Reading WAV files is audio/wav.ts.)
 */

const HEADER_BYTES = 44;

/** Streams PCM16 LE mono into a WAV file; `close()` writes the final sizes into the header. */
export class WavWriter {
  readonly #file: FileHandle;
  readonly #sampleRateHz: number;
  #dataBytes = 0;
  #position = HEADER_BYTES;
  #closed = false;

  private constructor(file: FileHandle, sampleRateHz: number) {
    this.#file = file;
    this.#sampleRateHz = sampleRateHz;
  }

  static async create(path: string, sampleRateHz: number): Promise<WavWriter> {
    const file = await open(path, 'w');
    const writer = new WavWriter(file, sampleRateHz);
    await file.write(writer.#header(0), 0, HEADER_BYTES, 0);
    return writer;
  }

  get dataBytes(): number {
    return this.#dataBytes;
  }

  async write(pcm: Uint8Array): Promise<void> {
    const length = pcm.byteLength - (pcm.byteLength % 2);
    await this.#file.write(pcm, 0, length, this.#position);
    this.#position += length;
    this.#dataBytes += length;
  }

  /** Finalises the header and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.write(this.#header(this.#dataBytes), 0, HEADER_BYTES, 0);
    await this.#file.close();
  }

  #header(dataBytes: number): Buffer {
    const h = Buffer.alloc(HEADER_BYTES);
    h.write('RIFF', 0, 'ascii');
    h.writeUInt32LE(36 + dataBytes, 4);
    h.write('WAVE', 8, 'ascii');
    h.write('fmt ', 12, 'ascii');
    h.writeUInt32LE(16, 16); // fmt chunk size
    h.writeUInt16LE(1, 20); // PCM
    h.writeUInt16LE(1, 22); // mono
    h.writeUInt32LE(this.#sampleRateHz, 24);
    h.writeUInt32LE(this.#sampleRateHz * 2, 28); // byte rate
    h.writeUInt16LE(2, 32); // block align
    h.writeUInt16LE(16, 34); // bits per sample
    h.write('data', 36, 'ascii');
    h.writeUInt32LE(dataBytes, 40);
    return h;
  }
}
