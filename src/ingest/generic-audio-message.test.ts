import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/app-error.js';
import { INGEST_ENCODINGS, INGEST_SAMPLE_RATES_HZ } from '../domain/audio-format.js';
import {
  bytesPerFrame,
  MAX_GENERIC_INGEST_MESSAGE_BYTES,
  maxIngestMessageBytes,
  validateGenericAudioMessage,
} from './generic-audio-message.js';
import { INGEST_CHANNELS, type IngestAudioFormat } from './generic-ingest-params.js';

const PCM16_MONO_8K: IngestAudioFormat = { encoding: 'pcm16', sampleRateHz: 8000, channels: 1 };
const PCM16_STEREO_16K: IngestAudioFormat = { encoding: 'pcm16', sampleRateHz: 16_000, channels: 2 };
const MULAW_STEREO_8K: IngestAudioFormat = { encoding: 'mulaw', sampleRateHz: 8000, channels: 2 };

const anyFormat = fc.record({
  encoding: fc.constantFrom(...INGEST_ENCODINGS),
  sampleRateHz: fc.constantFrom(...INGEST_SAMPLE_RATES_HZ),
  channels: fc.constantFrom(...INGEST_CHANNELS),
});

function errorOf(bytes: number, format: IngestAudioFormat): AppError {
  try {
    validateGenericAudioMessage(new Uint8Array(bytes), format);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('validateGenericAudioMessage', () => {
  it('returns the number of samples per channel', () => {
    expect(validateGenericAudioMessage(new Uint8Array(320), PCM16_MONO_8K)).toBe(160);
    expect(validateGenericAudioMessage(new Uint8Array(640), PCM16_STEREO_16K)).toBe(160);
    expect(validateGenericAudioMessage(new Uint8Array(2), MULAW_STEREO_8K)).toBe(1);
  });

  it('rejects an odd byte count of pcm16 with 1007', () => {
    const err = errorOf(321, PCM16_MONO_8K);
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.closeCode).toBe(1007);
    expect(err.message).toBe('audio message must be a whole number of 2-byte sample frames (pcm16, 1 ch)');
  });

  it('rejects half a stereo frame with 1007', () => {
    expect(errorOf(2, PCM16_STEREO_16K).message).toMatch(/4-byte sample frames/);
    expect(errorOf(3, MULAW_STEREO_8K).code).toBe('INVALID_PAYLOAD');
  });

  it('rejects an empty message with 1007', () => {
    expect(errorOf(0, PCM16_MONO_8K).message).toBe('audio message is empty');
  });

  it('accepts exactly 1 s of audio and rejects more with 1009', () => {
    expect(validateGenericAudioMessage(new Uint8Array(16_000), PCM16_MONO_8K)).toBe(8000);
    const err = errorOf(16_002, PCM16_MONO_8K);
    expect(err.code).toBe('MESSAGE_TOO_BIG');
    expect(err.closeCode).toBe(1009);
  });

  it('reads only the view it is given, not the buffer behind it', () => {
    const pool = new ArrayBuffer(1024);
    expect(validateGenericAudioMessage(new Uint8Array(pool, 3, 4), PCM16_MONO_8K)).toBe(2);
    expect(validateGenericAudioMessage(Buffer.from(pool, 10, 6), MULAW_STEREO_8K)).toBe(3);
  });

  it('accepts a random byte count exactly when it is a non-empty whole number of frames within 1 s', () => {
    fc.assert(
      fc.property(anyFormat, fc.nat({ max: 200_000 }), (format, bytes) => {
        const max = maxIngestMessageBytes(format);
        const frame = bytesPerFrame(format);
        if (bytes > 0 && bytes % frame === 0 && bytes <= max) {
          expect(validateGenericAudioMessage(new Uint8Array(bytes), format)).toBe(bytes / frame);
        } else {
          const err = errorOf(bytes, format);
          expect(err.code).toBe(bytes > max ? 'MESSAGE_TOO_BIG' : 'INVALID_PAYLOAD');
          expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(120);
        }
      }),
    );
  });

  it('counts the same samples however a stream is split at frame boundaries', () => {
    fc.assert(
      fc.property(
        anyFormat,
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1 }),
        (format, frames) => {
          const frame = bytesPerFrame(format);
          const audio = new Uint8Array(frames.reduce((a, b) => a + b, 0) * frame);
          let offset = 0;
          let samples = 0;
          for (const n of frames) {
            samples += validateGenericAudioMessage(audio.subarray(offset, offset + n * frame), format);
            offset += n * frame;
          }
          expect(samples).toBe(audio.length / frame);
        },
      ),
    );
  });
});

describe('maxIngestMessageBytes', () => {
  it('is 1 s of audio in the given format', () => {
    expect(maxIngestMessageBytes(PCM16_MONO_8K)).toBe(16_000);
    expect(maxIngestMessageBytes(MULAW_STEREO_8K)).toBe(16_000);
    expect(maxIngestMessageBytes({ encoding: 'alaw', sampleRateHz: 48_000, channels: 1 })).toBe(48_000);
  });

  it('peaks at 48 kHz stereo pcm16 for the socket-wide limit', () => {
    expect(MAX_GENERIC_INGEST_MESSAGE_BYTES).toBe(192_000);
  });
});
