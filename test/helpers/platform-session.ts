import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A recorded-format platform session (test/fixtures/platforms/<platform>/session.jsonl, described
 * in each fixture's README) made ready to replay: placeholders filled, messages grouped into the
 * 20 ms slots they are sent in.
 */
export interface PlatformSession {
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  /** Batch i is sent at i × 20 ms: text messages as strings, binary ones as bytes. */
  readonly batches: (string | Uint8Array)[][];
}

/**
 * Loads a fixture session. `token` fills `{{token}}`; `callId` fills `{{call_id}}`, or, when null,
 * every explicit call id is taken out (a key whose value is the placeholder is removed, and so is
 * a `call_id=…` pair inside a string), so that the platform's own call id names the call.
 */
export function loadPlatformSession(
  platform: string,
  values: { token: string; callId: string | null },
): PlatformSession {
  const lines = readFileSync(
    new URL(`../fixtures/platforms/${platform}/session.jsonl`, import.meta.url),
    'utf8',
  )
    .trim()
    .split('\n')
    .map((line) => fill(JSON.parse(line), values));
  let path = `/ws/${platform}`;
  let query: Record<string, string> = {};
  let headers: Record<string, string> = {};
  const batches: (string | Uint8Array)[][] = [];
  for (const line of lines) {
    if (line.handshake) {
      ({ path, query, headers } = line.handshake);
      continue;
    }
    const slot = Math.round(line.at / 20);
    while (batches.length <= slot) batches.push([]);
    if (line.t !== undefined) batches[slot].push(JSON.stringify(line.t));
    else if (line.raw !== undefined) batches[slot].push(line.raw);
    else batches[slot].push(Buffer.from(line.b, 'base64'));
  }
  return { path, query, headers, batches };
}

// biome-ignore lint/suspicious/noExplicitAny: fixture lines are walked generically
function fill(value: any, values: { token: string; callId: string | null }): any {
  if (typeof value === 'string') {
    let s = value.replaceAll('{{token}}', values.token);
    if (values.callId !== null) s = s.replaceAll('{{call_id}}', values.callId);
    else s = s.replace(/[,;&]?\s*call_id=\{\{call_id\}\}/g, '').replace(/^[,;&]\s*/, '');
    return s;
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, values));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (values.callId === null && v === '{{call_id}}') continue;
      out[k] = fill(v, values);
    }
    return out;
  }
  return value;
}

/** The headers Genesys adds to sign an AudioHook upgrade (RFC 9421, HMAC-SHA256 of the client secret). */
export function signAudioHookUpgrade(
  request: { target: string; authority: string; headers: Record<string, string> },
  apiKey: string,
  clientSecretBase64: string,
  options: { createdS?: number; nonce?: string } = {},
): { 'signature-input': string; signature: string } {
  const components = [
    '@request-target',
    '@authority',
    'audiohook-organization-id',
    'audiohook-session-id',
    'audiohook-correlation-id',
    'x-api-key',
  ];
  const created = options.createdS ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? randomBytes(18).toString('base64');
  const params = `(${components.map((c) => `"${c}"`).join(' ')});keyid="${apiKey}";nonce="${nonce}";alg="hmac-sha256";created=${created};expires=${created + 30}`;
  const value = (c: string) =>
    c === '@request-target'
      ? request.target
      : c === '@authority'
        ? request.authority
        : request.headers[c].trim();
  const base = [...components.map((c) => `"${c}": ${value(c)}`), `"@signature-params": ${params}`].join('\n');
  const mac = createHmac('sha256', Buffer.from(clientSecretBase64, 'base64')).update(base).digest('base64');
  return { 'signature-input': `sig1=${params}`, signature: `sig1=:${mac}:` };
}
