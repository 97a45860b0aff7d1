import { AppError } from '../domain/app-error.js';
import { InvalidCursorError, isDatabaseUnavailable } from '../store/store.js';

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  validation?: unknown;
  message?: string;
}

/**
 * Maps anything thrown while serving a request to the AppError the client sees. Returns `internal:
 * true` for errors that are bugs (to be logged in full); their details never reach the client.
 */
export function toAppError(err: unknown): { error: AppError; internal: boolean } {
  if (err instanceof AppError) return { error: err, internal: false };
  if (err instanceof InvalidCursorError)
    return { error: new AppError('VALIDATION_ERROR', 'cursor is not valid'), internal: false };
  if (isDatabaseUnavailable(err)) {
    return {
      error: new AppError('SERVICE_UNAVAILABLE', 'Database unavailable, retry shortly'),
      internal: false,
    };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as FastifyLikeError;
  if (e.validation) {
    // Fastify's schema messages name the part and field ("body/call_id must match pattern …").
    return { error: new AppError('VALIDATION_ERROR', e.message), internal: false };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { error: new AppError('VALIDATION_ERROR', 'Body is not valid JSON'), internal: false };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { error: new AppError('MESSAGE_TOO_BIG', 'Body too large'), internal: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        error: new AppError('VALIDATION_ERROR', 'Content-Type must be application/json'),
        internal: false,
      };
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return { error: new AppError('VALIDATION_ERROR', 'Malformed request body'), internal: false };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { error: new AppError('VALIDATION_ERROR', 'Malformed request'), internal: false };
  }
  return { error: new AppError('INTERNAL_SERVER_ERROR'), internal: true };
}
