import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/app-error.js';
import { MAX_GENERIC_CONTROL_MESSAGE_CHARS, parseGenericControlMessage } from './generic-control-message.js';

function errorOf(text: string): AppError {
  try {
    parseGenericControlMessage(text);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('parseGenericControlMessage', () => {
  it('recognises stop', () => {
    expect(parseGenericControlMessage('{"event":"stop"}')).toEqual({ type: 'stop' });
    expect(parseGenericControlMessage(' { "event" : "stop", "extra": 1 } ')).toEqual({ type: 'stop' });
  });

  it('ignores unknown events, reporting a shortened name', () => {
    expect(parseGenericControlMessage('{"event":"pause"}')).toEqual({ type: 'ignored', event: 'pause' });
    const long = parseGenericControlMessage(JSON.stringify({ event: 'x'.repeat(100) }));
    expect(long).toEqual({ type: 'ignored', event: 'x'.repeat(32) });
  });

  it.each([
    ['malformed JSON', 'stop', 'message is not valid JSON'],
    ['a JSON array', '[]', 'message must be a JSON object'],
    ['JSON null', 'null', 'message must be a JSON object'],
    ['a missing event', '{}', 'event is required'],
    ['a non-string event', '{"event":1}', 'event must be a string'],
  ])('rejects %s with 1007', (_what, text, message) => {
    const err = errorOf(text);
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.closeCode).toBe(1007);
    expect(err.message).toBe(message);
  });

  it('rejects an oversized text message with 1009', () => {
    const text = JSON.stringify({ event: 'stop', pad: 'x'.repeat(MAX_GENERIC_CONTROL_MESSAGE_CHARS) });
    expect(errorOf(text).code).toBe('MESSAGE_TOO_BIG');
  });

  it('never fails on random input with anything but a short AppError', () => {
    const input = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(input, (text) => {
        try {
          parseGenericControlMessage(text);
        } catch (err) {
          expect(err).toBeInstanceOf(AppError);
          expect(Buffer.byteLength((err as AppError).message)).toBeLessThanOrEqual(120);
        }
      }),
    );
  });
});
