import { CliError } from './cli-error.js';

/** What each API error means to a person at a terminal. */
const HINTS: Record<string, string> = {
  UNAUTHORIZED: 'the API key was not accepted (set EARSHOT_API_KEY or --api-key)',
  MISSING_CALL_ID: 'a call id is required',
  INVALID_ORG_PREFERENCES:
    'live listen is disabled for this organization (PATCH /v1/org/preferences to enable it)',
  CALL_NOT_FOUND: 'no such call in this organization',
  INVALID_CALL_STATUS: 'the call has ended',
  RATE_LIMITED: 'too many requests; try again shortly',
  SERVICE_UNAVAILABLE: 'the server cannot reach its database right now; try again shortly',
};

export interface ApiTarget {
  /** http(s)://host:port of the server. */
  readonly url: string;
  readonly apiKey: string;
}

/**
 * The client commands (`listen`, `simulate`) read two variables of their own, here and nowhere else:
 * EARSHOT_API_KEY and EARSHOT_URL, each the default of a flag (`--api-key`, `--url`). The server's
 * variables are read by config/load-config.ts.
 */
const DEFAULT_SERVER_URL = 'http://127.0.0.1:8080';

/** The API key from `--api-key` or EARSHOT_API_KEY, or a clear error. */
export function apiKeyFrom(option: string | undefined): string {
  const key = option ?? process.env.EARSHOT_API_KEY;
  if (!key) throw new CliError('an API key is needed: set EARSHOT_API_KEY or pass --api-key');
  return key;
}

/** The server from `--url`, else EARSHOT_URL, else http://127.0.0.1:8080. */
export function serverUrlFrom(option: string | undefined): string {
  return option || process.env.EARSHOT_URL || DEFAULT_SERVER_URL;
}

/** The help text of `--url`. */
export const SERVER_URL_HELP = `earshot server (default: $EARSHOT_URL, else ${DEFAULT_SERVER_URL})`;

/** Calls the earshot HTTP API; resolves to `data`, or throws a CliError saying what went wrong. */
export async function callApi<T>(target: ApiTarget, method: string, path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(new URL(path, target.url), { method, headers: { authorization: target.apiKey } });
  } catch (err) {
    throw new CliError(
      `cannot reach earshot at ${target.url}: ${(err as Error).cause ?? (err as Error).message}`,
    );
  }
  const text = await response.text();
  let body: { status?: string; data?: T; errors?: { code: string; message: string }[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`unexpected answer from ${target.url} (HTTP ${response.status})`);
  }
  if (body.status === 'success') return body.data as T;
  const error = body.errors?.[0];
  const hint = error ? (HINTS[error.code] ?? error.message) : `HTTP ${response.status}`;
  throw new CliError(`${hint}${error ? ` [${error.code}]` : ''}`);
}
