/**
 * PCM16 little-endian byte ↔ sample conversion and stereo de-interleaving.
 *
 * Network buffers (a Node `Buffer` sliced out of a WebSocket message) often start at an odd
 * `byteOffset`, where `new Int16Array(buf.buffer, off, n)` throws. Copying *bytes* into the
 * destination's memory sidesteps alignment entirely: the destination is an `Int16Array`, so its
 * bytes are always aligned, and on a little-endian host LE bytes are already the native layout.
 * That is one `memcpy`; only a big-endian host takes the per-sample loop.
 *
 * Functions clamp to the room in the destination and return the count written; they never throw
 * on audio content.
 */

/** Whether this host stores multi-byte integers little-endian (every platform Node ships on, in practice). */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Reads PCM16 LE samples from `src` (any byteOffset) into `dst[dstOffset…]`.
 * A trailing odd byte is ignored; callers that must reject odd lengths check before calling.
 * @returns samples written: `min(floor(src.byteLength / 2), dst.length - dstOffset)`.
 */
export function readPcm16le(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  const n = Math.max(0, Math.min(src.byteLength >> 1, dst.length - dstOffset));
  if (n === 0) return 0;
  if (HOST_IS_LITTLE_ENDIAN) {
    const target = new Uint8Array(dst.buffer, dst.byteOffset + dstOffset * 2, n * 2);
    target.set(src.byteLength === n * 2 ? src : src.subarray(0, n * 2));
    return n;
  }
  return readPcm16leBytewise(src, dst, dstOffset);
}

/** The portable (any host byte order) form of {@link readPcm16le}; same contract, slower. */
export function readPcm16leBytewise(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  const n = Math.max(0, Math.min(src.byteLength >> 1, dst.length - dstOffset));
  // Storing 0…65535 into an Int16Array wraps to the signed value, so no explicit sign extension.
  for (let i = 0; i < n; i++) dst[dstOffset + i] = src[2 * i] | (src[2 * i + 1] << 8);
  return n;
}

/**
 * Reads PCM16 *big-endian* samples (network order: RTP's L16, Telnyx's L16) from `src` into
 * `dst[dstOffset…]`; same contract as {@link readPcm16le}.
 */
export function readPcm16be(src: Uint8Array, dst: Int16Array, dstOffset = 0): number {
  const n = Math.max(0, Math.min(src.byteLength >> 1, dst.length - dstOffset));
  for (let i = 0; i < n; i++) dst[dstOffset + i] = (src[2 * i] << 8) | src[2 * i + 1];
  return n;
}

/**
 * Writes samples as PCM16 LE bytes into `dst[dstByteOffset…]` (any alignment).
 * @returns bytes written (always even): `2 * min(src.length, floor((dst.length - dstByteOffset) / 2))`.
 */
export function writePcm16le(src: Int16Array, dst: Uint8Array, dstByteOffset = 0): number {
  const n = Math.max(0, Math.min(src.length, (dst.length - dstByteOffset) >> 1));
  if (n === 0) return 0;
  if (HOST_IS_LITTLE_ENDIAN) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, n * 2), dstByteOffset);
    return n * 2;
  }
  return writePcm16leBytewise(src, dst, dstByteOffset);
}

/** The portable (any host byte order) form of {@link writePcm16le}; same contract, slower. */
export function writePcm16leBytewise(src: Int16Array, dst: Uint8Array, dstByteOffset = 0): number {
  const n = Math.max(0, Math.min(src.length, (dst.length - dstByteOffset) >> 1));
  for (let i = 0; i < n; i++) {
    const v = src[i];
    dst[dstByteOffset + 2 * i] = v & 0xff;
    dst[dstByteOffset + 2 * i + 1] = (v >> 8) & 0xff;
  }
  return n * 2;
}

/**
 * Splits interleaved stereo samples (L R L R …) into two mono arrays. A trailing unpaired sample
 * is ignored.
 * @returns sample frames written: `min(floor(src.length / 2), left.length, right.length)`.
 */
export function deinterleaveStereo(src: Int16Array, left: Int16Array, right: Int16Array): number {
  const n = Math.min(src.length >> 1, left.length, right.length);
  for (let i = 0; i < n; i++) {
    left[i] = src[2 * i];
    right[i] = src[2 * i + 1];
  }
  return n;
}
