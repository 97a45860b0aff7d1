import type { FastifyRequest } from 'fastify';
import { AppError } from '../domain/app-error.js';
import type { Org } from '../domain/entities.js';
import { credentialFrom, tokenCheck } from '../edge/credentials.js';
import type { Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The organization of the API key that authenticated the request (set on /v1 routes). */
    org: Org;
    /** The visible prefix of that API key (set on /v1 routes). */
    apiKeyPrefix: string;
  }
}

/** An onRequest hook: resolves the API key to its organization or answers 401 UNAUTHORIZED. */
export function apiKeyAuth(store: Store) {
  return async (request: FastifyRequest): Promise<void> => {
    const key = credentialFrom(request.headers.authorization);
    const found = key === null ? undefined : await store.findApiKey(key);
    if (!found) throw new AppError('UNAUTHORIZED', 'Missing, unknown or revoked API key');
    request.org = found.org;
    request.apiKeyPrefix = found.prefix;
  };
}

/** An onRequest hook that admits requests carrying `token` and answers 401 otherwise (see tokenCheck). */
export function bearerTokenAuth(token: string, what: string) {
  const check = tokenCheck(token, what);
  return async (request: FastifyRequest): Promise<void> => check(request.headers.authorization);
}
