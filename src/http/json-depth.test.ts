import { describe, expect, it } from 'vitest';
import { jsonNestingExceeds, MAX_JSON_DEPTH } from './json-depth.js';

const nested = (levels: number, open = '{"a":', close = '}') =>
  `${open.repeat(levels - 1)}{}${close.repeat(levels - 1)}`;

describe('jsonNestingExceeds', () => {
  it('counts objects and arrays, the outermost as level 1', () => {
    expect(jsonNestingExceeds('1', 0)).toBe(false);
    expect(jsonNestingExceeds('{}', 0)).toBe(true);
    expect(jsonNestingExceeds('{}', 1)).toBe(false);
    expect(jsonNestingExceeds('[[1],[2]]', 2)).toBe(false);
    expect(jsonNestingExceeds('[[1],[[2]]]', 2)).toBe(true);
    expect(jsonNestingExceeds(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonNestingExceeds(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(jsonNestingExceeds(nested(40, '[', ']'), MAX_JSON_DEPTH)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes and backslashes included', () => {
    expect(jsonNestingExceeds(JSON.stringify({ a: '{{{{[[[[' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ a: 'say \\"{{{"' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ a: 'ends with \\', b: '[[[' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ a: 'x\\', b: { c: 1 } }), 1)).toBe(true);
  });

  it('walks a million levels without recursion', () => {
    expect(jsonNestingExceeds('['.repeat(1_000_000), MAX_JSON_DEPTH)).toBe(true);
  });
});
