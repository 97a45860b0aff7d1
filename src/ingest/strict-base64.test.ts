import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64LengthOf, decodeStrictBase64, isStrictBase64 } from './strict-base64.js';

describe('isStrictBase64', () => {
  it.each(['', 'QQ==', 'QUI=', 'QUJD', '+/+/', '/////w=='])('accepts canonical %j', (text) => {
    expect(isStrictBase64(text)).toBe(true);
  });

  it.each([
    ['a garbage character', 'QU*D'],
    ['missing padding', 'QQ'],
    ['a non-multiple-of-4 length', 'QUJDR'],
    ['padding in the middle', 'QQ==QUJD'],
    ['three padding characters', 'Q==='],
    ['only padding', '===='],
    ['the URL-safe alphabet', 'ab-_'],
    ['whitespace', 'QU D'],
    ['a line break', 'QUJD\nQUJD'],
    ['non-ASCII', 'QUJé'],
    ['non-zero bits before two pads', 'QR=='],
    ['non-zero bits before one pad', 'QUJ='],
  ])('rejects %s', (_what, text) => {
    expect(isStrictBase64(text)).toBe(false);
    expect(decodeStrictBase64(text)).toBeUndefined();
  });

  it('decodes exactly what Buffer#toString("base64") encoded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(text.length).toBe(base64LengthOf(bytes.length));
        expect(decodeStrictBase64(text)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('agrees with an independent grammar of canonical base64 on random strings', () => {
    // Last data character before '==' must have its low 4 bits zero, before '=' its low 2 bits.
    const canonical = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;
    const unit = fc.constantFrom(...'AQgwEB/+9az=-_ *\n\u00e9\u012b'.split(''));
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 16 }), (text) => {
        expect(isStrictBase64(text)).toBe(canonical.test(text));
      }),
      { numRuns: 10_000 },
    );
  });

  it('rejects a non-ASCII character whose low byte is in the alphabet', () => {
    expect(Buffer.from('QUI\u012b', 'base64')).toHaveLength(3); // Node's forgiving decoder
    expect(isStrictBase64('QUI\u012b')).toBe(false);
  });
});

describe('base64LengthOf', () => {
  it('rounds up to whole 4-character groups', () => {
    expect([0, 1, 2, 3, 4, 160, 8000].map(base64LengthOf)).toEqual([0, 4, 4, 4, 8, 216, 10_668]);
  });
});
