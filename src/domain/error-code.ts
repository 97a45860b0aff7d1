/**
 * Every error earshot reports, declared once: its HTTP status (for the JSON envelope and for refused
 * WebSocket upgrades), the WebSocket close code used when it ends an open socket, and a default
 * message that reveals no internals. `docs/api.md` lists the same table; a test keeps them in step.
 */
export const ErrorCode = {
  UNAUTHORIZED: { status: 401, closeCode: 1008, message: 'Missing, unknown or revoked credentials' },
  MISSING_CALL_ID: { status: 400, closeCode: 1008, message: 'Call ID is required' },
  INVALID_ORG_PREFERENCES: {
    status: 403,
    closeCode: 1008,
    message: 'Live listen is not enabled for this organization',
  },
  CALL_NOT_FOUND: {
    status: 404,
    closeCode: 1008,
    message: 'Call does not exist or does not belong to organization',
  },
  INVALID_CALL_STATUS: { status: 409, closeCode: 1008, message: 'Call is not active' },
  VALIDATION_ERROR: { status: 400, closeCode: 1007, message: 'Invalid request' },
  RATE_LIMITED: { status: 429, closeCode: 1008, message: 'Too many requests' },
  /** A limit of SPEC §7 (listeners, participants, calls, connections) would be exceeded; the message names it. */
  QUOTA_EXCEEDED: { status: 429, closeCode: 1008, message: 'Quota exceeded' },
  INTERNAL_SERVER_ERROR: { status: 500, closeCode: 1011, message: 'Internal server error' },
  // Extensions beyond the Bland-compatible table (documented in docs/api.md).
  NOT_FOUND: { status: 404, closeCode: 1008, message: 'Not found' },
  SERVICE_UNAVAILABLE: { status: 503, closeCode: 1013, message: 'Service temporarily unavailable' },
  /** A socket message of the wrong kind (text where audio was expected, or the reverse). */
  UNSUPPORTED_DATA: { status: 400, closeCode: 1003, message: 'Unsupported message type' },
  /** A socket message that is malformed: bad JSON, bad base64, odd byte count, media before start. */
  INVALID_PAYLOAD: { status: 400, closeCode: 1007, message: 'Malformed message' },
  MESSAGE_TOO_BIG: { status: 413, closeCode: 1009, message: 'Message too big' },
} as const satisfies Record<string, { status: number; closeCode: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCode;

/** WebSocket close codes earshot sends, by meaning. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  REVOKED: 4001,
  /** An ingest connection whose participant was taken over by a newer connection (SPEC §4.1). */
  REPLACED: 4002,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
