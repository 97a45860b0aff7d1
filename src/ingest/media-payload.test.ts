import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appErrorOf as errorOf } from '../../test/helpers/parser-properties.js';
import { AppError } from '../domain/app-error.js';
import { checkMediaBytes, decodeMediaPayload, mediaPayloadRule } from './media-payload.js';

const L16 = mediaPayloadRule({ field: 'media.payload', maxBytes: 16_000, bytesPerSample: 2 });
const MULAW = mediaPayloadRule({ field: 'media.payload', maxBytes: 8000, bytesPerSample: 1 });
const base64 = (length: number) => Buffer.alloc(length, 0x55).toString('base64');

describe('mediaPayloadRule', () => {
  it('bounds the base64 text by the length that encodes maxBytes, and words the refusals', () => {
    expect(L16).toEqual({
      field: 'media.payload',
      maxBytes: 16_000,
      maxChars: 21_336,
      bytesPerSample: 2,
      tooBig: 'media.payload exceeds 16000 bytes (1 s of audio)',
      partialSample: 'media.payload must hold whole 16-bit samples (an even byte count)',
    });
    expect(Object.isFrozen(L16)).toBe(true);
    const own = mediaPayloadRule({
      field: 'audio message',
      maxBytes: 320,
      bytesPerSample: 2,
      tooBig: 'audio message exceeds 1000 ms',
      partialSample: 'audio message must be whole 16-bit samples',
    });
    expect([own.tooBig, own.partialSample]).toEqual([
      'audio message exceeds 1000 ms',
      'audio message must be whole 16-bit samples',
    ]);
  });
});

describe('decodeMediaPayload', () => {
  it('returns the bytes of a payload of whole samples up to maxBytes', () => {
    expect(decodeMediaPayload(base64(320), L16)).toEqual(Buffer.alloc(320, 0x55));
    expect(decodeMediaPayload(base64(16_000), L16)).toHaveLength(16_000);
    expect(decodeMediaPayload(base64(1), MULAW)).toHaveLength(1);
  });

  it.each([
    ['AAE', 'INVALID_PAYLOAD', 'media.payload is not valid base64'],
    ['AA-_', 'INVALID_PAYLOAD', 'media.payload is not valid base64'],
    ['ZQXJ7MARKER!', 'INVALID_PAYLOAD', 'media.payload is not valid base64'],
    ['', 'INVALID_PAYLOAD', 'media.payload is empty'],
    [base64(321), 'INVALID_PAYLOAD', 'media.payload must hold whole 16-bit samples (an even byte count)'],
    // 16 002 bytes still encode to 21 336 characters: refused after decoding.
    [base64(16_002), 'MESSAGE_TOO_BIG', 'media.payload exceeds 16000 bytes (1 s of audio)'],
    // Longer text: refused before decoding.
    [base64(16_004), 'MESSAGE_TOO_BIG', 'media.payload exceeds 16000 bytes (1 s of audio)'],
    ['!'.repeat(1_000_000), 'MESSAGE_TOO_BIG', 'media.payload exceeds 16000 bytes (1 s of audio)'],
  ])('refuses %#', (text, code, message) => {
    const err = errorOf(() => decodeMediaPayload(text, L16));
    expect([err.code, err.message]).toEqual([code, message]);
  });

  it('accepts exactly the canonical base64 of 1 to maxBytes bytes of whole samples', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 40 }), (bytes, max) => {
        const rule = mediaPayloadRule({ field: 'p', maxBytes: max, bytesPerSample: 2 });
        const text = Buffer.from(bytes).toString('base64');
        const ok = bytes.length > 0 && bytes.length <= max && bytes.length % 2 === 0;
        if (ok) expect(decodeMediaPayload(text, rule)).toEqual(Buffer.from(bytes));
        else expect(errorOf(() => decodeMediaPayload(text, rule))).toBeInstanceOf(AppError);
      }),
    );
  });
});

describe('checkMediaBytes', () => {
  const stereo = mediaPayloadRule({
    field: 'audio message',
    maxBytes: 16_000,
    bytesPerSample: 2,
    partialSample: 'stereo audio must hold whole sample pairs (an even byte count)',
  });

  it('returns the same buffer, not a copy', () => {
    const bytes = Buffer.alloc(320);
    expect(checkMediaBytes(bytes, stereo)).toBe(bytes);
  });

  it.each([
    [0, 'INVALID_PAYLOAD', 'audio message is empty'],
    [321, 'INVALID_PAYLOAD', 'stereo audio must hold whole sample pairs (an even byte count)'],
    [16_002, 'MESSAGE_TOO_BIG', 'audio message exceeds 16000 bytes (1 s of audio)'],
    [16_001, 'MESSAGE_TOO_BIG', 'audio message exceeds 16000 bytes (1 s of audio)'],
  ])('refuses %i bytes', (length, code, message) => {
    const err = errorOf(() => checkMediaBytes(Buffer.alloc(length), stereo));
    expect([err.code, err.message]).toEqual([code, message]);
  });
});
