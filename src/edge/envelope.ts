import type { ErrorCode } from '../domain/error-code.js';

/** The JSON envelope of every /v1 (and /admin/v1) response. */
export interface SuccessEnvelope<T> {
  readonly status: 'success';
  readonly data: T;
  readonly errors: null;
}

export interface ErrorEnvelope {
  readonly status: 'error';
  readonly data: null;
  readonly errors: readonly { readonly code: ErrorCode; readonly message: string }[];
}

export function success<T>(data: T): SuccessEnvelope<T> {
  return { status: 'success', data, errors: null };
}

export function failure(code: ErrorCode, message: string): ErrorEnvelope {
  return { status: 'error', data: null, errors: [{ code, message }] };
}
