import { ErrorCode } from './error-code.js';

/**
 * The one error type that crosses layers. `code` decides the HTTP status and close code; `message`
 * is safe to show to a client (never internals), and defaults to the code's generic message.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra headers to send with the HTTP response (e.g. Retry-After for RATE_LIMITED). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(
      message ?? ErrorCode[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'AppError';
    this.code = code;
    this.headers = options?.headers;
  }

  get status(): number {
    return ErrorCode[this.code].status;
  }

  get closeCode(): number {
    return ErrorCode[this.code].closeCode;
  }
}
