import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/app-error.js';
import { counterField, isJsonObject, objectField, optionalStringField, stringField } from './json-field.js';

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('isJsonObject', () => {
  it('accepts plain objects and refuses null, arrays and primitives', () => {
    expect(isJsonObject({})).toBe(true);
    for (const value of [null, [], 'x', 1, true, undefined]) expect(isJsonObject(value)).toBe(false);
  });
});

describe('objectField / stringField / optionalStringField', () => {
  it('says a missing field is required, naming its path', () => {
    const err = errorOf(() => stringField({}, 'track', 'media.track'));
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.closeCode).toBe(1007);
    expect(err.message).toBe('media.track is required');
    expect(errorOf(() => objectField({}, 'media', 'media')).message).toBe('media is required');
  });

  it('says a field of the wrong type must have the right one, without echoing the value', () => {
    expect(errorOf(() => stringField({ a: 42 }, 'a', 'x.a')).message).toBe('x.a must be a string');
    expect(errorOf(() => objectField({ a: [1] }, 'a', 'x.a')).message).toBe('x.a must be an object');
    expect(errorOf(() => optionalStringField({ a: {} }, 'a', 'x.a')).message).toBe('x.a must be a string');
  });

  it('returns the fallback for an absent optional string', () => {
    expect(optionalStringField({}, 'a', 'a')).toBe('');
    expect(optionalStringField({}, 'a', 'a', 'dflt')).toBe('dflt');
    expect(optionalStringField({ a: 'v' }, 'a', 'a')).toBe('v');
  });
});

describe('counterField', () => {
  it('reads Twilio-style decimal strings and plain non-negative integers', () => {
    expect(counterField({ c: '0' }, 'c', 'c')).toBe(0);
    expect(counterField({ c: '42' }, 'c', 'c')).toBe(42);
    expect(counterField({ c: '999999999999999' }, 'c', 'c')).toBe(999_999_999_999_999);
    expect(counterField({ c: 7 }, 'c', 'c')).toBe(7);
  });

  it.each([
    '',
    '-1',
    '+1',
    ' 1',
    '1 ',
    '1e3',
    '0x10',
    '1.5',
    '١',
    '1234567890123456',
    -1,
    1.5,
    Number.NaN,
    2 ** 53,
    null,
    true,
  ])('rejects %j with 1007', (value) => {
    const err = errorOf(() => counterField({ c: value }, 'c', 'media.chunk'));
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.message).toBe('media.chunk must be a non-negative integer');
  });

  it('accepts a string exactly when it is 1 to 15 ASCII digits', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (text) => {
        const ok = /^[0-9]{1,15}$/.test(text);
        if (ok) expect(counterField({ c: text }, 'c', 'c')).toBe(Number(text));
        else expect(errorOf(() => counterField({ c: text }, 'c', 'c')).code).toBe('INVALID_PAYLOAD');
      }),
    );
  });
});
