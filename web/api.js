// earshot console: the public HTTP API, as any customer would call it, and its errors in words.

export class ApiError extends Error {
  constructor(status, code, message, retryAfterS = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/**
 * Calls `path` on this server with the API key and returns `{ data, serverDate }` from the success
 * envelope; anything else throws an ApiError whose message is meant for people.
 */
export async function callApi(path, apiKey, method = 'GET') {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { authorization: apiKey, accept: 'application/json' },
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      'Cannot reach the earshot server: the network is down or the server stopped.',
    );
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): described by its HTTP status below.
  }
  if (response.ok && body?.status === 'success') {
    return { data: body.data, serverDate: response.headers.get('date') };
  }
  const error = body?.errors?.[0] ?? {};
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
  throw new ApiError(
    response.status,
    error.code ?? 'UNKNOWN',
    describe(response.status, error.code, error.message, retryAfterS),
    retryAfterS,
  );
}

function describe(status, code, serverMessage, retryAfterS) {
  switch (status) {
    case 401:
      return 'API key not recognised. Check that the whole key was pasted and that it has not been revoked.';
    case 403:
      return code === 'INVALID_ORG_PREFERENCES'
        ? 'Live listen is disabled for this organization. Enable it with PATCH /v1/org/preferences.'
        : 'This API key is not allowed to do that.';
    case 404:
      return code === 'CALL_NOT_FOUND'
        ? 'Call not found: it does not exist or belongs to another organization.'
        : 'Not found.';
    case 409:
      return 'Call has ended.';
    case 429:
      return `Too many requests: the rate limit for this key was reached${retryAfterS ? `; retry in ${retryAfterS} s` : ''}.`;
    case 400:
      return `The server refused the request: ${serverMessage ?? 'bad request'}.`;
    case 503:
      return 'The server is not ready (its database or message bus is unreachable). Retrying.';
    default:
      return status >= 500
        ? `The server had an unexpected problem (HTTP ${status}).`
        : `Unexpected answer from the server (HTTP ${status}).`;
  }
}

/** Words for a listen socket's close code. */
export function describeClose(code, reason, byUser) {
  if (byUser && (code === 1000 || code === 1005 || code === null)) return 'Stopped.';
  switch (code) {
    case 1000:
      return reason === 'call ended' ? 'The call ended.' : 'Closed by the server.';
    case 1001:
      return 'The server is shutting down.';
    case 1006:
      return 'Connection lost (network down, or the listen URL was refused or has expired).';
    case 1008:
      return reason === 'listener too slow'
        ? 'Disconnected: this browser could not keep up with the stream.'
        : 'The server refused this listener.';
    case 1011:
      return 'The server had an unexpected problem.';
    case 4001:
      return 'Listen access to this call was revoked.';
    default:
      return 'The connection closed.';
  }
}
