/**
 * How deep a JSON request body may nest objects and arrays. The body's own object is level 1, so
 * `metadata` of POST /v1/calls may hold 31 more levels. Deeper bodies are refused before they are
 * parsed: nothing downstream (validation, the store's JSON.stringify, the response) recurses over
 * thousands of levels and overflows the stack.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether JSON text nests objects/arrays deeper than `maxDepth`. One pass over the characters, no
 * recursion, no allocation; brackets inside strings (escapes included) do not count. Text that is
 * not JSON gives some answer; the parser refuses it anyway.
 */
export function jsonNestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
