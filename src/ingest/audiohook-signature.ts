import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeStrictBase64 } from './strict-base64.js';

/**
 * Verification of the HTTP message signature (RFC 9421) that Genesys Cloud AudioHook puts on its
 * WebSocket upgrade request when the integration has a client secret. Pure: no I/O, no clock (the
 * caller passes `nowS`), `node:crypto` only.
 *
 * What Genesys sends (developer.genesys.cloud/devapps/audiohook, and the client of
 * purecloudlabs/audiohook-reference-implementation, `client/src/clientwebsocket.ts`):
 *
 * ```
 * X-API-KEY: <api key>
 * Signature-Input: sig1=("@request-target" "@authority" "audiohook-organization-id"
 *   "audiohook-session-id" "audiohook-correlation-id" "x-api-key");keyid="<api key>";
 *   nonce="<24 base64 chars>";alg="hmac-sha256";created=<unix s>;expires=<created + 30>
 * Signature: sig1=:<base64 HMAC-SHA256>:
 * ```
 *
 * (one line in reality). The HMAC key is the client secret *decoded from base64* — Genesys's UI and
 * the reference's secret store hold it as base64 (`Buffer.from(value, 'base64')` in
 * `app/src/secrets-plugin.ts` and `client/src/index.ts`), so `key.clientSecret` here is the decoded
 * bytes.
 *
 * Every refusal is one of {@link SignatureRefusal}'s short reasons: none echoes a header value, so
 * a reason can be logged or sent back as is.
 */

/** Components Genesys signs; a signature that leaves one out is refused (as the reference does). */
export const AUDIOHOOK_SIGNED_COMPONENTS = Object.freeze([
  '@request-target',
  '@authority',
  'audiohook-organization-id',
  'audiohook-session-id',
  'audiohook-correlation-id',
  'x-api-key',
] as const);

/** The oldest signature accepted, in seconds: the reference's `maxSignatureAge` (app/src/authenticator.ts). */
export const AUDIOHOOK_SIGNATURE_MAX_AGE_S = 10;

/** How far in the future `created` may be (clock skew), in seconds: the reference's `MAX_CLOCK_SKEW`. */
export const AUDIOHOOK_SIGNATURE_CLOCK_SKEW_S = 3;

/** Shortest accepted nonce: the reference refuses shorter ones (Genesys sends 24 base64 characters). */
export const AUDIOHOOK_MIN_NONCE_CHARS = 22;

/** Longest accepted nonce, so that a replay cache keyed by nonces stays bounded per entry. */
export const AUDIOHOOK_MAX_NONCE_CHARS = 256;

/** Longest accepted Signature-Input or Signature header, in characters (Genesys's is ~350). */
const MAX_SIGNATURE_HEADER_CHARS = 8192;

/** Why a signature was refused. Short and constant: safe for logs and for a 401 body. */
export const SignatureRefusal = Object.freeze({
  NO_CLIENT_SECRET: 'the key has no client secret',
  UNSIGNED: 'missing Signature-Input or Signature header',
  MALFORMED_INPUT: 'malformed Signature-Input header',
  MALFORMED_SIGNATURE: 'malformed Signature header',
  NO_SIGNATURE_FOR_LABEL: 'no Signature for the Signature-Input label',
  BAD_COMPONENT: 'unsupported or malformed covered component',
  MISSING_COMPONENT: 'a covered header is missing from the request',
  NOT_COVERED: 'signature does not cover the components Genesys signs',
  BAD_PARAMETER: 'malformed or unknown signature parameter',
  BAD_ALG: 'signature alg must be hmac-sha256',
  BAD_KEYID: 'signature keyid does not match X-API-KEY',
  BAD_API_KEY: 'X-API-KEY does not match the key',
  BAD_NONCE: 'signature nonce is missing or malformed',
  NO_CREATED: 'signature created is missing',
  FROM_THE_FUTURE: 'signature created is in the future',
  TOO_OLD: 'signature is too old',
  EXPIRED: 'signature has expired',
  MISMATCH: 'signature does not match',
  REPLAYED: 'signature nonce was already used',
} as const);
export type SignatureRefusal = (typeof SignatureRefusal)[keyof typeof SignatureRefusal];

/** The parts of the upgrade request a signature can cover. */
export interface SignedRequest {
  readonly method: string;
  /** Path and query as the request line carries them (`/ws/audiohook?x=1`). */
  readonly target: string;
  /** The Host the client addressed (behind a proxy: the host Genesys connected to). */
  readonly authority: string;
  /** Lower-case header names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface AudioHookSignatureKey {
  /** The API key the key was looked up by: Genesys's `keyid` and `X-API-KEY`. */
  readonly apiKey: string;
  /** The client secret, decoded from the base64 Genesys shows. */
  readonly clientSecret: Buffer;
}

export interface AudioHookSignatureOptions {
  /** Now, in Unix seconds (may be fractional). */
  readonly nowS: number;
  /** Oldest accepted `created`, in seconds before now; default {@link AUDIOHOOK_SIGNATURE_MAX_AGE_S}. */
  readonly maxAgeS?: number;
  /**
   * True when the nonce was seen before (a replay). Called only once the signature has verified, so
   * an implementation may record the nonce as it answers without letting forgeries fill its cache.
   */
  readonly seenNonce?: (nonce: string) => boolean;
}

export type AudioHookSignatureResult =
  | { readonly ok: true; readonly nonce: string }
  | { readonly ok: false; readonly reason: SignatureRefusal };

/**
 * Verifies the RFC 9421 signature of an AudioHook upgrade request exactly as Genesys makes it:
 * label any (Genesys: `sig1`; the first member of Signature-Input is the one checked), alg
 * `hmac-sha256` (or absent), `keyid` = X-API-KEY = `key.apiKey`, a nonce, `created` no more than
 * `maxAgeS` old nor more than {@link AUDIOHOOK_SIGNATURE_CLOCK_SKEW_S} ahead, `expires` (if present)
 * not past, covering at least {@link AUDIOHOOK_SIGNED_COMPONENTS}, and a matching HMAC compared in
 * constant time; then the nonce must be new to `seenNonce`.
 */
export function verifyAudioHookSignature(
  request: SignedRequest,
  key: AudioHookSignatureKey,
  options: AudioHookSignatureOptions,
): AudioHookSignatureResult {
  // An empty secret would make the HMAC key public knowledge; the reference treats an empty secret
  // as "signing off", which is the caller's decision, not a signature to accept here.
  if (key.clientSecret.length === 0) return refuse(SignatureRefusal.NO_CLIENT_SECRET);
  const read = readHttpMessageSignature(request);
  if (!read.ok) return read;
  const { components, params, signature, base } = read.signature;

  for (const required of AUDIOHOOK_SIGNED_COMPONENTS) {
    if (!components.includes(required)) return refuse(SignatureRefusal.NOT_COVERED);
  }

  const alg = params.get('alg');
  if (alg !== undefined && !(alg.kind === 'string' && alg.value === 'hmac-sha256')) {
    return refuse(SignatureRefusal.BAD_ALG);
  }
  const keyid = params.get('keyid');
  const apiKeyHeader = headerValue(request.headers, 'x-api-key');
  if (apiKeyHeader === undefined || !sameText(apiKeyHeader, key.apiKey)) {
    return refuse(SignatureRefusal.BAD_API_KEY);
  }
  if (keyid?.kind !== 'string' || !sameText(keyid.value, key.apiKey)) {
    return refuse(SignatureRefusal.BAD_KEYID);
  }
  const nonce = params.get('nonce');
  if (
    nonce?.kind !== 'string' ||
    nonce.value.length < AUDIOHOOK_MIN_NONCE_CHARS ||
    nonce.value.length > AUDIOHOOK_MAX_NONCE_CHARS
  ) {
    return refuse(SignatureRefusal.BAD_NONCE);
  }

  const created = params.get('created');
  if (created === undefined) return refuse(SignatureRefusal.NO_CREATED);
  // Types were checked when the parameters were read: created and expires are integers.
  const createdS = created.value as number;
  const { nowS } = options;
  if (createdS > nowS + AUDIOHOOK_SIGNATURE_CLOCK_SKEW_S) return refuse(SignatureRefusal.FROM_THE_FUTURE);
  if (nowS - createdS > (options.maxAgeS ?? AUDIOHOOK_SIGNATURE_MAX_AGE_S)) {
    return refuse(SignatureRefusal.TOO_OLD);
  }
  const expires = params.get('expires');
  if (expires !== undefined && (expires.value as number) < nowS) return refuse(SignatureRefusal.EXPIRED);

  const expected = createHmac('sha256', key.clientSecret).update(base, 'utf8').digest();
  // timingSafeEqual needs equal lengths; the length of an HMAC-SHA256 (32) is no secret.
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    return refuse(SignatureRefusal.MISMATCH);
  }
  if (options.seenNonce?.(nonce.value) === true) return refuse(SignatureRefusal.REPLAYED);
  return { ok: true, nonce: nonce.value };
}

/** One signature of a request as RFC 9421 defines it, before any policy is applied. */
export interface HttpMessageSignature {
  /** Its label in Signature-Input and Signature (Genesys: `sig1`). */
  readonly label: string;
  /** The covered component identifiers, in order (`@authority`, `x-api-key`, …). */
  readonly components: readonly string[];
  /** Its parameters (`created`, `expires`, `keyid`, `nonce`, `alg`, `tag`), type-checked. */
  readonly params: ReadonlyMap<string, SfBareItem>;
  /** The signature bytes from the Signature header. */
  readonly signature: Buffer;
  /** The signature base (RFC 9421 §2.5) the signer signed, if the signature is genuine. */
  readonly base: string;
}

/**
 * Reads the first signature of a request (the first member of Signature-Input, and the member of
 * Signature with the same label) and builds its signature base from the request (RFC 9421 §2.5).
 * Generic RFC 9421 with the derived components an upgrade request has (`@method`,
 * `@authority`, `@request-target`, `@path`, `@query`) and plain header fields; component
 * parameters (`;sf`, `;key`, `;bs`, `;req`, `;tr`) are refused, as Genesys uses none.
 */
export function readHttpMessageSignature(
  request: SignedRequest,
):
  | { readonly ok: true; readonly signature: HttpMessageSignature }
  | { readonly ok: false; readonly reason: SignatureRefusal } {
  const inputText = headerValue(request.headers, 'signature-input');
  const signatureText = headerValue(request.headers, 'signature');
  if (inputText === undefined || signatureText === undefined) return refuse(SignatureRefusal.UNSIGNED);

  const inputs = parseSfDictionary(inputText);
  if (inputs === null || inputs.size === 0) return refuse(SignatureRefusal.MALFORMED_INPUT);
  const signatures = parseSfDictionary(signatureText);
  if (signatures === null || signatures.size === 0) return refuse(SignatureRefusal.MALFORMED_SIGNATURE);

  const [label, input] = inputs.entries().next().value as [string, SfMember];
  if (input.kind !== 'inner-list') return refuse(SignatureRefusal.MALFORMED_INPUT);
  const signed = signatures.get(label);
  if (signed === undefined) return refuse(SignatureRefusal.NO_SIGNATURE_FOR_LABEL);
  if (signed.kind !== 'item' || signed.value.kind !== 'bytes') {
    return refuse(SignatureRefusal.MALFORMED_SIGNATURE);
  }

  const components: string[] = [];
  const lines: string[] = [];
  for (const item of input.items) {
    if (item.value.kind !== 'string' || item.params.size !== 0) return refuse(SignatureRefusal.BAD_COMPONENT);
    const name = item.value.value;
    if (components.includes(name)) return refuse(SignatureRefusal.BAD_COMPONENT);
    const value = componentValue(request, name);
    if (value === BAD_COMPONENT) return refuse(SignatureRefusal.BAD_COMPONENT);
    if (value === undefined) return refuse(SignatureRefusal.MISSING_COMPONENT);
    components.push(name);
    lines.push(`${serializeSfString(name)}: ${value}`);
  }
  for (const [name, value] of input.params) {
    const type = SIGNATURE_PARAMETER_TYPES[name as keyof typeof SIGNATURE_PARAMETER_TYPES];
    if (type === undefined || value.kind !== type) return refuse(SignatureRefusal.BAD_PARAMETER);
    if (type === 'integer' && (value.value as number) < 0) return refuse(SignatureRefusal.BAD_PARAMETER);
  }
  // The base ends with the signature parameters re-serialized from what was parsed (RFC 9421
  // §2.3 asks for the serialization of the inner list), as the reference does: a signer that
  // wrote them in a non-canonical form is refused rather than trusted on its own spelling.
  lines.push(`"@signature-params": ${serializeSfInnerList(input)}`);
  return {
    ok: true,
    signature: {
      label,
      components,
      params: input.params,
      signature: Buffer.from(signed.value.value),
      base: lines.join('\n'),
    },
  };
}

/** The parameters RFC 9421 §2.3 defines, and the type each must have. */
const SIGNATURE_PARAMETER_TYPES = {
  created: 'integer',
  expires: 'integer',
  nonce: 'string',
  alg: 'string',
  keyid: 'string',
  tag: 'string',
} as const;

const BAD_COMPONENT = Symbol('bad component');
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * The value of a covered component (RFC 9421 §2.1, §2.2), `undefined` for a header the request
 * lacks, or BAD_COMPONENT for one this verifier does not support or that is not well-formed.
 */
function componentValue(request: SignedRequest, name: string): string | undefined | typeof BAD_COMPONENT {
  if (name.startsWith('@')) {
    const target = request.target;
    const q = target.indexOf('?');
    switch (name) {
      case '@method':
        return request.method;
      case '@authority':
        return normalizeAuthority(request.authority);
      case '@request-target':
        return target;
      case '@path':
        return q < 0 ? target : target.slice(0, q);
      case '@query':
        return q < 0 ? '?' : target.slice(q);
      default:
        return BAD_COMPONENT;
    }
  }
  if (!HEADER_NAME.test(name)) return BAD_COMPONENT;
  return headerValue(request.headers, name);
}

/**
 * RFC 9421 §2.2.3: the authority lower-cased, without the default port. Genesys connects over
 * `wss` only (TLS is required), so `:443` is the default removed; the reference client signs
 * `url.host`, which already omits it.
 */
function normalizeAuthority(authority: string): string {
  const lower = authority.trim().toLowerCase();
  return lower.endsWith(':443') ? lower.slice(0, -4) : lower;
}

/**
 * A header's value as RFC 9421 §2.1 covers it: outer spaces and tabs stripped, obsolete line folding
 * replaced by a space, several field lines joined with `, `. `undefined` when absent.
 */
function headerValue(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (value === undefined) return undefined;
  if (typeof value === 'string') return canonicalFieldValue(value);
  return value.map(canonicalFieldValue).join(', ');
}

function canonicalFieldValue(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '').replace(/[ \t]*\r\n[ \t]+/g, ' ');
}

/** Equality of two strings without a timing side channel on where they first differ. */
function sameText(a: string, b: string): boolean {
  const da = createHmac('sha256', 'earshot-compare').update(a, 'utf8').digest();
  const db = createHmac('sha256', 'earshot-compare').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

function refuse(reason: SignatureRefusal): { readonly ok: false; readonly reason: SignatureRefusal } {
  return { ok: false, reason };
}

// ---------------------------------------------------------------------------------------------
// Structured Field Values (RFC 8941): just what Signature-Input and Signature need — dictionaries
// whose members are items or inner lists, with parameters — parsed strictly (a malformed field is
// refused whole, §4.2) and serialized canonically (§4.1).

/** A bare item, tagged with its type: a string and a token of the same text serialize differently. */
export type SfBareItem =
  | { readonly kind: 'integer'; readonly value: number }
  | { readonly kind: 'decimal'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'token'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  | { readonly kind: 'boolean'; readonly value: boolean };

export type SfParameters = ReadonlyMap<string, SfBareItem>;

export interface SfItem {
  readonly kind: 'item';
  readonly value: SfBareItem;
  readonly params: SfParameters;
}

export interface SfInnerList {
  readonly kind: 'inner-list';
  readonly items: readonly SfItem[];
  readonly params: SfParameters;
}

export type SfMember = SfItem | SfInnerList;

/** Parses a Dictionary field (RFC 8941 §4.2.2), or returns null if it is not one. */
export function parseSfDictionary(text: string): Map<string, SfMember> | null {
  if (text.length > MAX_SIGNATURE_HEADER_CHARS) return null;
  const parser = new SfParser(text);
  try {
    return parser.dictionary();
  } catch (err) {
    if (err === SF_FAIL) return null;
    throw err;
  }
}

/** Serializes an inner list with its parameters (RFC 8941 §4.1.1.1). */
export function serializeSfInnerList(list: SfInnerList): string {
  return `(${list.items.map(serializeSfItem).join(' ')})${serializeSfParams(list.params)}`;
}

function serializeSfItem(item: SfItem): string {
  return serializeSfBareItem(item.value) + serializeSfParams(item.params);
}

function serializeSfParams(params: SfParameters): string {
  let out = '';
  for (const [key, value] of params) {
    out += `;${key}`;
    if (!(value.kind === 'boolean' && value.value)) out += `=${serializeSfBareItem(value)}`;
  }
  return out;
}

function serializeSfBareItem(item: SfBareItem): string {
  switch (item.kind) {
    case 'integer':
      return String(item.value);
    case 'decimal': {
      // §4.1.5: at most three fractional digits, at least one.
      const text = (Math.round(item.value * 1000) / 1000).toFixed(3).replace(/0{1,2}$/, '');
      return text;
    }
    case 'string':
      return serializeSfString(item.value);
    case 'token':
      return item.value;
    case 'bytes':
      return `:${Buffer.from(item.value).toString('base64')}:`;
    case 'boolean':
      return item.value ? '?1' : '?0';
  }
}

function serializeSfString(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

const SF_FAIL = Symbol('structured field parse failure');

/** A cursor over one field value; every method throws SF_FAIL on malformed input. */
class SfParser {
  #i = 0;
  readonly #s: string;

  constructor(text: string) {
    // §4.2: leading and trailing spaces are discarded.
    this.#s = text.replace(/^ +| +$/g, '');
  }

  dictionary(): Map<string, SfMember> {
    const members = new Map<string, SfMember>();
    const s = this.#s;
    while (this.#i < s.length) {
      const key = this.#key();
      let member: SfMember;
      if (s[this.#i] === '=') {
        this.#i++;
        member = this.#itemOrInnerList();
      } else {
        member = { kind: 'item', value: { kind: 'boolean', value: true }, params: this.#params() };
      }
      // A repeated key overwrites the value but keeps its first position (an ordered map).
      members.set(key, member);
      this.#skipOws();
      if (this.#i >= s.length) return members;
      if (s[this.#i] !== ',') throw SF_FAIL;
      this.#i++;
      this.#skipOws();
      if (this.#i >= s.length) throw SF_FAIL; // a trailing comma
    }
    return members;
  }

  #itemOrInnerList(): SfMember {
    return this.#s[this.#i] === '(' ? this.#innerList() : this.#item();
  }

  #innerList(): SfInnerList {
    const s = this.#s;
    this.#i++; // '('
    const items: SfItem[] = [];
    while (this.#i < s.length) {
      while (s[this.#i] === ' ') this.#i++;
      if (s[this.#i] === ')') {
        this.#i++;
        return { kind: 'inner-list', items, params: this.#params() };
      }
      items.push(this.#item());
      const c = s[this.#i];
      if (c !== ' ' && c !== ')') throw SF_FAIL;
    }
    throw SF_FAIL; // no closing parenthesis
  }

  #item(): SfItem {
    const value = this.#bareItem();
    return { kind: 'item', value, params: this.#params() };
  }

  #params(): Map<string, SfBareItem> {
    const s = this.#s;
    const params = new Map<string, SfBareItem>();
    while (s[this.#i] === ';') {
      this.#i++;
      while (s[this.#i] === ' ') this.#i++;
      const key = this.#key();
      let value: SfBareItem = { kind: 'boolean', value: true };
      if (s[this.#i] === '=') {
        this.#i++;
        value = this.#bareItem();
      }
      params.set(key, value);
    }
    return params;
  }

  #key(): string {
    const s = this.#s;
    const start = this.#i;
    const first = s.charCodeAt(start);
    if (!(isLcAlpha(first) || first === 0x2a)) throw SF_FAIL;
    this.#i++;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i);
      if (!(isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a)) break;
      this.#i++;
    }
    return s.slice(start, this.#i);
  }

  #bareItem(): SfBareItem {
    const c = this.#s.charCodeAt(this.#i);
    if (c === 0x2d || isDigit(c)) return this.#number();
    if (c === 0x22) return { kind: 'string', value: this.#string() };
    if (c === 0x3a) return { kind: 'bytes', value: this.#bytes() };
    if (c === 0x3f) return { kind: 'boolean', value: this.#boolean() };
    if (isAlpha(c) || c === 0x2a) return { kind: 'token', value: this.#token() };
    throw SF_FAIL;
  }

  /** §4.2.4: an integer of at most 15 digits, or a decimal of at most 12.3 digits. */
  #number(): SfBareItem {
    const s = this.#s;
    const start = this.#i;
    if (s[this.#i] === '-') this.#i++;
    if (!isDigit(s.charCodeAt(this.#i))) throw SF_FAIL;
    const digitsStart = this.#i;
    let dot = -1;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i);
      if (isDigit(c)) {
        this.#i++;
      } else if (c === 0x2e && dot < 0) {
        if (this.#i - digitsStart > 12) throw SF_FAIL;
        dot = this.#i;
        this.#i++;
      } else {
        break;
      }
      if (dot < 0 ? this.#i - digitsStart > 15 : this.#i - digitsStart > 16) throw SF_FAIL;
    }
    const text = s.slice(start, this.#i);
    if (dot < 0) return { kind: 'integer', value: Number.parseInt(text, 10) };
    const fraction = this.#i - dot - 1;
    if (fraction < 1 || fraction > 3) throw SF_FAIL;
    return { kind: 'decimal', value: Number.parseFloat(text) };
  }

  /** §4.2.5: printable ASCII, with only `\"` and `\\` as escapes. */
  #string(): string {
    const s = this.#s;
    this.#i++; // '"'
    let out = '';
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i++);
      if (c === 0x5c) {
        const next = s.charCodeAt(this.#i++);
        if (next !== 0x22 && next !== 0x5c) throw SF_FAIL;
        out += String.fromCharCode(next);
      } else if (c === 0x22) {
        return out;
      } else if (c < 0x20 || c > 0x7e) {
        throw SF_FAIL;
      } else {
        out += String.fromCharCode(c);
      }
    }
    throw SF_FAIL; // unterminated
  }

  /** §4.2.6: a token starts with a letter or `*`, then tchar, `:` or `/`. */
  #token(): string {
    const s = this.#s;
    const start = this.#i++;
    while (this.#i < s.length && isTokenChar(s.charCodeAt(this.#i))) this.#i++;
    return s.slice(start, this.#i);
  }

  /** §4.2.7: `:base64:`, here only canonical padded base64 (what Genesys and Node write). */
  #bytes(): Uint8Array {
    const s = this.#s;
    const end = s.indexOf(':', this.#i + 1);
    if (end < 0) throw SF_FAIL;
    const bytes = decodeStrictBase64(s.slice(this.#i + 1, end));
    if (bytes === undefined) throw SF_FAIL;
    this.#i = end + 1;
    return bytes;
  }

  #boolean(): boolean {
    const c = this.#s[this.#i + 1];
    if (c !== '0' && c !== '1') throw SF_FAIL;
    this.#i += 2;
    return c === '1';
  }

  #skipOws(): void {
    const s = this.#s;
    while (s[this.#i] === ' ' || s[this.#i] === '\t') this.#i++;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

function isAlpha(c: number): boolean {
  return isLcAlpha(c) || (c >= 0x41 && c <= 0x5a);
}

/** tchar (RFC 9110 §5.6.2) plus `:` and `/`. */
function isTokenChar(c: number): boolean {
  return (
    isAlpha(c) || isDigit(c) || c === 0x3a || c === 0x2f || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))
  );
}
