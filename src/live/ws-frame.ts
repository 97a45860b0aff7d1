/**
 * Server-to-client WebSocket framing (RFC 6455 §5.2) for the fan-out path: one unmasked binary
 * frame is built once per message and the same Buffer is written to every listener's socket.
 * The `ws` library would build (and allocate) a header per socket per send.
 */

/** Header length of an unmasked frame carrying `payloadBytes`. */
export function frameHeaderBytes(payloadBytes: number): number {
  return payloadBytes < 126 ? 2 : payloadBytes < 65536 ? 4 : 10;
}

/**
 * Allocates a Buffer holding the header of one final binary frame followed by room for
 * `payloadBytes`; the caller writes the payload at `payloadOffset`.
 */
export function allocBinaryFrame(payloadBytes: number): { frame: Buffer; payloadOffset: number } {
  const header = frameHeaderBytes(payloadBytes);
  const frame = Buffer.allocUnsafe(header + payloadBytes);
  frame[0] = 0x82; // FIN + opcode 2 (binary)
  if (header === 2) {
    frame[1] = payloadBytes;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadBytes, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(payloadBytes, 6);
  }
  return { frame, payloadOffset: header };
}
