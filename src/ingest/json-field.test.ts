import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appErrorOf as errorOf } from '../../test/helpers/parser-properties.js';
import {
  checkStreamId,
  counterField,
  isJsonObject,
  nullableString,
  nullableStringField,
  objectField,
  optionalStringField,
  parseEventBytes,
  parseObjectBytes,
  stringField,
} from './json-field.js';

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

describe('nullableStringField / nullableString', () => {
  it('reads a string, and null for an absent or null field', () => {
    expect(nullableStringField({ a: 'v' }, 'a', 'x.a')).toBe('v');
    expect(nullableStringField({ a: '' }, 'a', 'x.a')).toBe('');
    expect(nullableStringField({}, 'a', 'x.a')).toBeNull();
    expect(nullableStringField({ a: null }, 'a', 'x.a')).toBeNull();
    expect(nullableString(undefined, 'x.a')).toBeNull();
  });

  it.each([42, true, {}, ['v']])('refuses %j, naming the path and not the value', (value) => {
    const err = errorOf(() => nullableStringField({ a: value }, 'a', 'x.a'));
    expect([err.code, err.message]).toEqual(['INVALID_PAYLOAD', 'x.a must be a string']);
    expect(errorOf(() => nullableString(value, 'y')).message).toBe('y must be a string');
  });
});

describe('checkStreamId', () => {
  it('accepts an absent id, any id when start announced none, and the same id', () => {
    expect(() => checkStreamId(undefined, 's1', 'mismatch')).not.toThrow();
    expect(() => checkStreamId('s2', null, 'mismatch')).not.toThrow();
    expect(() => checkStreamId('s1', 's1', 'mismatch')).not.toThrow();
  });

  it.each(['s2', null, 1, ''])('refuses %j against s1 with the given message', (value) => {
    const err = errorOf(() => checkStreamId(value, 's1', 'stream_id does not match the one in start'));
    expect([err.code, err.message]).toEqual(['INVALID_PAYLOAD', 'stream_id does not match the one in start']);
  });
});

describe('parseEventBytes / parseObjectBytes', () => {
  const bytes = (text: string) => Buffer.from(text, 'utf8');

  it('parses a JSON object message from its bytes', () => {
    expect(parseEventBytes(bytes('{"event":"media","a":1}'), 100)).toEqual({
      message: { event: 'media', a: 1 },
      event: 'media',
    });
    expect(parseObjectBytes(bytes('{"type":"open"}'), 100)).toEqual({ type: 'open' });
  });

  it('refuses more than the limit before parsing: characters for events, bytes for objects', () => {
    // 5 characters, 11 bytes: objects are bounded by their bytes.
    const wide = bytes('"€€€"');
    expect(errorOf(() => parseEventBytes(bytes(`{"event":"${'a'.repeat(100)}"}`), 100)).message).toBe(
      'text message exceeds 100 characters',
    );
    expect(errorOf(() => parseEventBytes(Buffer.alloc(401, 0x20), 100)).code).toBe('MESSAGE_TOO_BIG');
    const err = errorOf(() => parseObjectBytes(wide, 10));
    expect([err.code, err.message]).toEqual(['MESSAGE_TOO_BIG', 'text message exceeds 10 bytes']);
  });

  it.each([
    ['{"event":"ZQXJ7', 'message is not valid JSON'],
    ['"media"', 'message must be a JSON object'],
    ['[1]', 'message must be a JSON object'],
  ])('refuses %s as INVALID_PAYLOAD without echoing it', (text, message) => {
    for (const parse of [() => parseEventBytes(bytes(text), 100), () => parseObjectBytes(bytes(text), 100)]) {
      const err = errorOf(parse);
      expect([err.code, err.message]).toEqual(['INVALID_PAYLOAD', message]);
    }
  });

  it('requires a string event of parseEventBytes only', () => {
    expect(errorOf(() => parseEventBytes(bytes('{}'), 100)).message).toBe('event is required');
    expect(parseObjectBytes(bytes('{}'), 100)).toEqual({});
  });
});
