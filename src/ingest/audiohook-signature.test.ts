import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUDIOHOOK_SIGNED_COMPONENTS,
  type AudioHookSignatureOptions,
  parseSfDictionary,
  readHttpMessageSignature,
  type SfInnerList,
  SignatureRefusal,
  type SignedRequest,
  serializeSfInnerList,
  verifyAudioHookSignature,
} from './audiohook-signature.js';

type Headers = Record<string, string | string[] | undefined>;

// ---------------------------------------------------------------------------------------------
// An independent signer, written from RFC 9421 §2.5 and §3.1 (not from the verifier): one line
// `"<component>": <value>` per covered component, then `"@signature-params": <inner list>`, joined
// by LF, signed with HMAC-SHA256; Genesys's parameter order (keyid, nonce, alg, created, expires).

interface SignOptions {
  apiKey: string;
  secret: Buffer;
  created: number;
  expires?: number | null;
  nonce?: string;
  label?: string;
  alg?: string | null;
  components?: readonly string[];
  /** Extra parameters appended verbatim (`;tag="x"`). */
  extraParams?: string;
}

interface Upgrade {
  method: string;
  target: string;
  authority: string;
  headers: Record<string, string>;
}

function componentValue(upgrade: Upgrade, name: string): string {
  switch (name) {
    case '@request-target':
      return upgrade.target;
    case '@authority':
      return upgrade.authority;
    case '@method':
      return upgrade.method;
    case '@path':
      return upgrade.target.split('?')[0];
    default:
      return upgrade.headers[name].trim();
  }
}

function sign(upgrade: Upgrade, o: SignOptions): { 'signature-input': string; signature: string } {
  const components = o.components ?? AUDIOHOOK_SIGNED_COMPONENTS;
  let params = `(${components.map((c) => `"${c}"`).join(' ')});keyid="${o.apiKey}"`;
  params += `;nonce="${o.nonce ?? 'bm9uY2Utb2YtdGhlLXRlc3Qtc2lnbmVy'}"`;
  if (o.alg !== null) params += `;alg="${o.alg ?? 'hmac-sha256'}"`;
  params += `;created=${o.created}`;
  if (o.expires !== null) params += `;expires=${o.expires ?? o.created + 30}`;
  params += o.extraParams ?? '';
  const base = [
    ...components.map((c) => `"${c}": ${componentValue(upgrade, c)}`),
    `"@signature-params": ${params}`,
  ].join('\n');
  const mac = createHmac('sha256', o.secret).update(base).digest('base64');
  const label = o.label ?? 'sig1';
  return { 'signature-input': `${label}=${params}`, signature: `${label}=:${mac}:` };
}

const API_KEY = 'eik_3n4bKq9XhQv2Yw7Zs1Ta';
const SECRET = Buffer.from('TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=', 'base64');
const NOW = 1_767_000_000;

function upgrade(headers: Record<string, string> = {}): Upgrade {
  return {
    method: 'GET',
    target: '/ws/audiohook',
    authority: 'earshot.example.com',
    headers: {
      host: 'earshot.example.com',
      'user-agent': 'GenesysCloud-AudioHook-Client',
      'audiohook-organization-id': 'd7934305-0972-4844-938e-9060eef73d05',
      'audiohook-session-id': '30b0e395-84d3-4570-ac13-9a62d8f514c0',
      'audiohook-correlation-id': 'e160e428-53e2-487c-977d-96989bf5c99d',
      'x-api-key': API_KEY,
      ...headers,
    },
  };
}

/** The request as the verifier sees it: the signer's upgrade plus its signature headers. */
function signed(u: Upgrade, o: Partial<SignOptions> = {}, overrides: Headers = {}): SignedRequest {
  const signature = sign(u, { apiKey: API_KEY, secret: SECRET, created: NOW - 1, ...o });
  return {
    method: u.method,
    target: u.target,
    authority: u.authority,
    headers: { ...u.headers, ...signature, ...overrides },
  };
}

const key = { apiKey: API_KEY, clientSecret: SECRET };
const options: AudioHookSignatureOptions = { nowS: NOW };

function reasonOf(request: SignedRequest, k = key, o: AudioHookSignatureOptions = options): string {
  const result = verifyAudioHookSignature(request, k, o);
  return result.ok ? 'ok' : result.reason;
}

describe('verifyAudioHookSignature: what Genesys sends', () => {
  it("verifies Genesys's documented example (developer.genesys.cloud; the reference's test vector)", () => {
    const request: SignedRequest = {
      method: 'GET',
      target: '/api/v1/voicebiometrics/ws',
      authority: 'audiohook.example.com',
      headers: {
        host: 'audiohook.example.com',
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'SSdtIGEgV2ViU29ja2V0IQ==',
        'sec-websocket-version': '13',
        'user-agent': 'GenesysCloud-AudioHook-Client',
        'audiohook-organization-id': 'd7934305-0972-4844-938e-9060eef73d05',
        'audiohook-correlation-id': 'e160e428-53e2-487c-977d-96989bf5c99d',
        'audiohook-session-id': '30b0e395-84d3-4570-ac13-9a62d8f514c0',
        'x-api-key': 'SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh',
        signature: 'sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:',
        'signature-input':
          'sig1=("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" "audiohook-correlation-id" "x-api-key");keyid="SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";alg="hmac-sha256";created=1641013200;expires=3282026430',
      },
    };
    const genesysKey = {
      apiKey: 'SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh',
      // The client secret as Genesys shows it, decoded: "MySuperSecretKeyTellNo-1!2@3#4$5".
      clientSecret: Buffer.from('TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=', 'base64'),
    };
    expect(verifyAudioHookSignature(request, genesysKey, { nowS: 1641013205 })).toEqual({
      ok: true,
      nonce: 'VGhpc0lzQVVuaXF1ZU5vbmNl',
    });
    // The secret's base64 text itself is not the key.
    const undecoded = {
      ...genesysKey,
      clientSecret: Buffer.from('TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU='),
    };
    expect(reasonOf(request, undecoded, { nowS: 1641013205 })).toBe(SignatureRefusal.MISMATCH);
  });

  it('verifies RFC 9421 Appendix B.2.5 (hmac-sha256, test-shared-secret) through the generic reader', () => {
    const result = readHttpMessageSignature({
      method: 'POST',
      target: '/foo?param=Value&Pet=dog',
      authority: 'example.com',
      headers: {
        date: 'Tue, 20 Apr 2021 02:07:55 GMT',
        'content-type': 'application/json',
        'signature-input':
          'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
        signature: 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:',
      },
    });
    if (!result.ok) throw new Error(result.reason);
    expect(result.signature.label).toBe('sig-b25');
    expect(result.signature.base).toBe(
      [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@authority": example.com',
        '"content-type": application/json',
        '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
      ].join('\n'),
    );
    // RFC 9421 Appendix B.1.5's shared secret.
    const secret = Buffer.from(
      'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==',
      'base64',
    );
    const mac = createHmac('sha256', secret).update(result.signature.base).digest();
    expect(mac.equals(result.signature.signature)).toBe(true);
  });

  it('verifies what the independent signer makes, with or without expires and alg, any label', () => {
    expect(verifyAudioHookSignature(signed(upgrade()), key, options)).toEqual({
      ok: true,
      nonce: 'bm9uY2Utb2YtdGhlLXRlc3Qtc2lnbmVy',
    });
    expect(reasonOf(signed(upgrade(), { expires: null }))).toBe('ok');
    expect(reasonOf(signed(upgrade(), { alg: null }))).toBe('ok');
    expect(reasonOf(signed(upgrade(), { label: 'genesys' }))).toBe('ok');
    expect(reasonOf(signed(upgrade(), { extraParams: ';tag="audiohook"' }))).toBe('ok');
  });

  it('verifies a query in the target, extra covered components and any component order', () => {
    const withQuery = { ...upgrade(), target: '/ws/audiohook?region=eu&x=%20y' };
    expect(reasonOf(signed(withQuery))).toBe('ok');
    const components = ['@method', 'user-agent', '@path', ...[...AUDIOHOOK_SIGNED_COMPONENTS].reverse()];
    expect(reasonOf(signed(withQuery, { components }))).toBe('ok');
  });

  it('builds the base from the parsed parameters: optional spaces in the header do not matter', () => {
    const request = signed(upgrade());
    const spaced = (request.headers['signature-input'] as string).replaceAll(';', '; ').replace('=(', '=(  ');
    expect(reasonOf({ ...request, headers: { ...request.headers, 'signature-input': spaced } })).toBe('ok');
  });

  it('normalizes the authority: case and the default port', () => {
    const request = signed(upgrade());
    expect(reasonOf({ ...request, authority: 'EarShot.Example.com:443' })).toBe('ok');
    expect(reasonOf({ ...request, authority: 'earshot.example.com:8443' })).toBe(SignatureRefusal.MISMATCH);
  });

  it('covers header values as RFC 9421 §2.1 canonicalizes them: outer whitespace, several lines', () => {
    const u = upgrade({ 'user-agent': 'GenesysCloud-AudioHook-Client' });
    const request = signed(u, { components: [...AUDIOHOOK_SIGNED_COMPONENTS, 'user-agent'] });
    expect(
      reasonOf({
        ...request,
        headers: { ...request.headers, 'user-agent': ' \tGenesysCloud-AudioHook-Client  ' },
      }),
    ).toBe('ok');
    const split = {
      ...request,
      headers: { ...request.headers, 'user-agent': ['GenesysCloud', 'AudioHook-Client'] },
    };
    expect(reasonOf(split)).toBe(SignatureRefusal.MISMATCH);
    const joined = signed(upgrade({ 'user-agent': 'GenesysCloud, AudioHook-Client' }), {
      components: [...AUDIOHOOK_SIGNED_COMPONENTS, 'user-agent'],
    });
    expect(
      reasonOf({
        ...joined,
        headers: { ...joined.headers, 'user-agent': ['GenesysCloud', 'AudioHook-Client'] },
      }),
    ).toBe('ok');
  });

  it('accepts created at the edges of the window and calls seenNonce only for a good signature', () => {
    expect(reasonOf(signed(upgrade(), { created: NOW - 10 }))).toBe('ok');
    expect(reasonOf(signed(upgrade(), { created: NOW + 3 }))).toBe('ok');
    expect(
      reasonOf(signed(upgrade(), { created: NOW - 60, expires: null }), key, { nowS: NOW, maxAgeS: 60 }),
    ).toBe('ok');
    expect(reasonOf(signed(upgrade(), { created: NOW - 30, expires: NOW }))).toBe(SignatureRefusal.TOO_OLD);
    expect(reasonOf(signed(upgrade(), { created: NOW - 5, expires: NOW }))).toBe('ok');
    const seen: string[] = [];
    const seenNonce = (nonce: string) => {
      const before = seen.includes(nonce);
      seen.push(nonce);
      return before;
    };
    const request = signed(upgrade());
    expect(
      reasonOf(
        signed(upgrade(), {}, { 'x-api-key': API_KEY }),
        { ...key, clientSecret: Buffer.from('x') },
        { nowS: NOW, seenNonce },
      ),
    ).toBe(SignatureRefusal.MISMATCH);
    expect(seen).toEqual([]);
    expect(reasonOf(request, key, { nowS: NOW, seenNonce })).toBe('ok');
    expect(reasonOf(request, key, { nowS: NOW, seenNonce })).toBe(SignatureRefusal.REPLAYED);
  });
});

describe('verifyAudioHookSignature: every refusal', () => {
  const good = signed(upgrade());
  const withHeaders = (headers: Headers): SignedRequest => ({
    ...good,
    headers: { ...good.headers, ...headers },
  });
  const input = good.headers['signature-input'] as string;
  const withInput = (edit: (text: string) => string) => withHeaders({ 'signature-input': edit(input) });

  it.each<
    [string, SignedRequest, SignatureRefusal, { key?: typeof key; options?: AudioHookSignatureOptions }?]
  >([
    [
      'an empty client secret',
      good,
      SignatureRefusal.NO_CLIENT_SECRET,
      { key: { ...key, clientSecret: Buffer.alloc(0) } },
    ],
    ['no Signature-Input', withHeaders({ 'signature-input': undefined }), SignatureRefusal.UNSIGNED],
    ['no Signature', withHeaders({ signature: undefined }), SignatureRefusal.UNSIGNED],
    [
      'neither',
      withHeaders({ signature: undefined, 'signature-input': undefined }),
      SignatureRefusal.UNSIGNED,
    ],
    [
      'a garbage Signature-Input',
      withHeaders({ 'signature-input': 'not a dictionary!' }),
      SignatureRefusal.MALFORMED_INPUT,
    ],
    ['an empty Signature-Input', withHeaders({ 'signature-input': '' }), SignatureRefusal.MALFORMED_INPUT],
    ['a Signature-Input with a trailing comma', withInput((t) => `${t},`), SignatureRefusal.MALFORMED_INPUT],
    ['an unterminated inner list', withInput((t) => t.replace(')', '')), SignatureRefusal.MALFORMED_INPUT],
    [
      'an unterminated string',
      withInput((t) => t.slice(0, t.indexOf('keyid="') + 9)),
      SignatureRefusal.MALFORMED_INPUT,
    ],
    [
      'a Signature-Input member that is no inner list',
      withHeaders({ 'signature-input': 'sig1="@authority"' }),
      SignatureRefusal.MALFORMED_INPUT,
    ],
    [
      'a non-ASCII Signature-Input',
      withInput((t) => t.replace('keyid="', 'keyid="é')),
      SignatureRefusal.MALFORMED_INPUT,
    ],
    [
      'an 8 KiB Signature-Input',
      withInput((t) => `${t};tag="${'a'.repeat(8192)}"`),
      SignatureRefusal.MALFORMED_INPUT,
    ],
    ['a garbage Signature', withHeaders({ signature: 'sig1=::::' }), SignatureRefusal.MALFORMED_SIGNATURE],
    [
      'a Signature that is a string',
      withHeaders({ signature: 'sig1="abc"' }),
      SignatureRefusal.MALFORMED_SIGNATURE,
    ],
    [
      'a Signature in unpadded base64',
      withHeaders({ signature: 'sig1=:YWJj YQ:' }),
      SignatureRefusal.MALFORMED_SIGNATURE,
    ],
    [
      'no Signature for the label',
      withHeaders({ signature: (good.headers.signature as string).replace('sig1', 'sig2') }),
      SignatureRefusal.NO_SIGNATURE_FOR_LABEL,
    ],
    [
      'a component that is a token',
      withInput((t) => t.replace('"x-api-key"', 'x-api-key')),
      SignatureRefusal.BAD_COMPONENT,
    ],
    [
      'a component with a parameter',
      withInput((t) => t.replace('"x-api-key"', '"x-api-key";sf')),
      SignatureRefusal.BAD_COMPONENT,
    ],
    [
      'a component twice',
      withInput((t) => t.replace('"x-api-key"', '"x-api-key" "x-api-key"')),
      SignatureRefusal.BAD_COMPONENT,
    ],
    [
      'an unsupported derived component',
      withInput((t) => t.replace('(', '("@target-uri" ')),
      SignatureRefusal.BAD_COMPONENT,
    ],
    [
      'an upper-case header name',
      withInput((t) => t.replace('(', '("User-Agent" ')),
      SignatureRefusal.BAD_COMPONENT,
    ],
    [
      'a covered header that is absent',
      withInput((t) => t.replace('(', '("date" ')),
      SignatureRefusal.MISSING_COMPONENT,
    ],
    [
      'x-api-key not covered',
      signed(upgrade(), { components: AUDIOHOOK_SIGNED_COMPONENTS.slice(0, 5) }),
      SignatureRefusal.NOT_COVERED,
    ],
    [
      '@authority not covered',
      signed(upgrade(), { components: AUDIOHOOK_SIGNED_COMPONENTS.filter((c) => c !== '@authority') }),
      SignatureRefusal.NOT_COVERED,
    ],
    ['an unknown parameter', signed(upgrade(), { extraParams: ';foo=1' }), SignatureRefusal.BAD_PARAMETER],
    [
      'created as a string',
      withInput((t) => t.replace(/created=(\d+)/, 'created="$1"')),
      SignatureRefusal.BAD_PARAMETER,
    ],
    [
      'a negative created',
      withInput((t) => t.replace(/created=(\d+)/, 'created=-$1')),
      SignatureRefusal.BAD_PARAMETER,
    ],
    [
      'keyid as a token',
      withInput((t) => t.replace(`keyid="${API_KEY}"`, `keyid=${API_KEY}`)),
      SignatureRefusal.BAD_PARAMETER,
    ],
    [
      'a decimal expires',
      withInput((t) => t.replace(/expires=(\d+)/, 'expires=$1.5')),
      SignatureRefusal.BAD_PARAMETER,
    ],
    ['another alg', signed(upgrade(), { alg: 'rsa-pss-sha512' }), SignatureRefusal.BAD_ALG],
    ['hmac-sha512', signed(upgrade(), { alg: 'hmac-sha512' }), SignatureRefusal.BAD_ALG],
    [
      'no X-API-KEY (a covered header)',
      withHeaders({ 'x-api-key': undefined }),
      SignatureRefusal.MISSING_COMPONENT,
    ],
    [
      'an X-API-KEY of another key',
      signed(upgrade({ 'x-api-key': 'eik_other' })),
      SignatureRefusal.BAD_API_KEY,
    ],
    ['a keyid of another key', signed(upgrade(), { apiKey: 'eik_other' }), SignatureRefusal.BAD_KEYID],
    ['no keyid', withInput((t) => t.replace(`;keyid="${API_KEY}"`, '')), SignatureRefusal.BAD_KEYID],
    ['no nonce', withInput((t) => t.replace(/;nonce="[^"]*"/, '')), SignatureRefusal.BAD_NONCE],
    ['a 21-character nonce', signed(upgrade(), { nonce: 'a'.repeat(21) }), SignatureRefusal.BAD_NONCE],
    ['a 257-character nonce', signed(upgrade(), { nonce: 'a'.repeat(257) }), SignatureRefusal.BAD_NONCE],
    ['no created', withInput((t) => t.replace(/;created=\d+/, '')), SignatureRefusal.NO_CREATED],
    ['created 4 s ahead', signed(upgrade(), { created: NOW + 4 }), SignatureRefusal.FROM_THE_FUTURE],
    ['created 11 s ago', signed(upgrade(), { created: NOW - 11 }), SignatureRefusal.TOO_OLD],
    [
      'created 2 s ago with maxAgeS 1',
      signed(upgrade(), { created: NOW - 2 }),
      SignatureRefusal.TOO_OLD,
      { options: { nowS: NOW, maxAgeS: 1 } },
    ],
    ['expires passed', signed(upgrade(), { created: NOW - 2, expires: NOW - 1 }), SignatureRefusal.EXPIRED],
    [
      'another secret',
      good,
      SignatureRefusal.MISMATCH,
      { key: { ...key, clientSecret: Buffer.from('another secret') } },
    ],
    [
      'a changed organization header',
      withHeaders({ 'audiohook-organization-id': '11111111-2222-4333-8444-555555555555' }),
      SignatureRefusal.MISMATCH,
    ],
    [
      'a changed session header',
      withHeaders({ 'audiohook-session-id': '11111111-2222-4333-8444-555555555555' }),
      SignatureRefusal.MISMATCH,
    ],
    [
      'a changed correlation header',
      withHeaders({ 'audiohook-correlation-id': 'x' }),
      SignatureRefusal.MISMATCH,
    ],
    ['another target', { ...good, target: '/ws/audiohook?x=1' }, SignatureRefusal.MISMATCH],
    ['another authority', { ...good, authority: 'evil.example.com' }, SignatureRefusal.MISMATCH],
    ['a signature of another length', withHeaders({ signature: 'sig1=:YWJj:' }), SignatureRefusal.MISMATCH],
    ['a changed nonce', withInput((t) => t.replace('bm9uY2', 'bm9uY3')), SignatureRefusal.MISMATCH],
    ['a replayed nonce', good, SignatureRefusal.REPLAYED, { options: { nowS: NOW, seenNonce: () => true } }],
  ])('refuses %s', (_what, request, reason, overrides) => {
    expect(reasonOf(request, overrides?.key ?? key, overrides?.options ?? options)).toBe(reason);
  });

  it('never echoes a header value in a reason', () => {
    const reasons = Object.values(SignatureRefusal);
    for (const reason of reasons) {
      expect(reason).not.toMatch(/eik_|sig1|[0-9a-f]{8}-/);
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(60);
    }
  });
});

describe('verifyAudioHookSignature: properties', () => {
  const token = fc.stringMatching(/^[A-Za-z0-9_+/=-]{1,60}$/);
  const uuid = fc.uuid();

  it('verifies any request the independent signer signs, and refuses it with any covered value changed', () => {
    fc.assert(
      fc.property(
        fc.record({
          apiKey: token,
          secret: fc.uint8Array({ minLength: 1, maxLength: 64 }),
          org: uuid,
          session: uuid,
          correlation: uuid,
          path: fc.stringMatching(/^\/[A-Za-z0-9/_.-]{0,40}$/),
          query: fc.option(fc.stringMatching(/^[A-Za-z0-9=&%_.-]{0,30}$/), { nil: undefined }),
          host: fc.domain(),
          age: fc.integer({ min: -3, max: 10 }),
          nonce: fc.stringMatching(/^[A-Za-z0-9+/=]{22,40}$/),
          label: fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/),
          tamper: fc.constantFrom(...AUDIOHOOK_SIGNED_COMPONENTS),
        }),
        (p) => {
          const u: Upgrade = {
            method: 'GET',
            target: p.query === undefined ? p.path : `${p.path}?${p.query}`,
            authority: p.host,
            headers: {
              'audiohook-organization-id': p.org,
              'audiohook-session-id': p.session,
              'audiohook-correlation-id': p.correlation,
              'x-api-key': p.apiKey,
            },
          };
          const secret = Buffer.from(p.secret);
          const headers: Record<string, string> = {
            ...u.headers,
            ...sign(u, { apiKey: p.apiKey, secret, created: NOW - p.age, nonce: p.nonce, label: p.label }),
          };
          const request: SignedRequest = { method: 'GET', target: u.target, authority: u.authority, headers };
          const k = { apiKey: p.apiKey, clientSecret: secret };
          expect(verifyAudioHookSignature(request, k, options)).toEqual({ ok: true, nonce: p.nonce });
          let tampered: SignedRequest;
          if (p.tamper === '@request-target') tampered = { ...request, target: `${request.target}x` };
          else if (p.tamper === '@authority') tampered = { ...request, authority: `x${request.authority}` };
          else tampered = { ...request, headers: { ...headers, [p.tamper]: `${headers[p.tamper]}x` } };
          const reason = reasonOf(tampered, k);
          expect(reason).toBe(
            p.tamper === 'x-api-key' ? SignatureRefusal.BAD_API_KEY : SignatureRefusal.MISMATCH,
          );
        },
      ),
    );
  });

  it('never throws on random Signature and Signature-Input headers', () => {
    const sfish = fc.oneof(
      fc.string(),
      fc.stringMatching(
        /^[a-z*][a-z0-9*_.-]{0,5}=(\(("[^"]{0,8}" ?){0,4}\))?(;[a-z]{1,6}(=("[^"]{0,8}"|-?\d{1,17}(\.\d{0,4})?|\?[01]|:[A-Za-z0-9+/=]{0,12}:|[A-Za-z*][!#$%&'*+.^_`|~:/A-Za-z0-9-]{0,5}))?){0,4}(, ?)?$/,
      ),
      fc.constant(signed(upgrade()).headers['signature-input'] as string),
    );
    fc.assert(
      fc.property(sfish, sfish, (input, signature) => {
        const request = {
          ...signed(upgrade()),
          headers: { ...signed(upgrade()).headers, 'signature-input': input, signature },
        };
        const result = verifyAudioHookSignature(request, key, options);
        expect(typeof result.ok).toBe('boolean');
        parseSfDictionary(input);
      }),
    );
  });
});

describe('Structured Field dictionaries (RFC 8941)', () => {
  it.each([
    ['a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid', ['a', 'b', 'c', 'd']],
    ['en="Applepie", da=:w4ZibGV0w6ZydGUK:', ['en', 'da']],
    ['a=?0, b, c; foo=bar', ['a', 'b', 'c']],
    ['rating=1.5, feelings=(joy sadness)', ['rating', 'feelings']],
    ['a=1, b=2, a=3', ['a', 'b']],
    ['  x=1  ', ['x']],
  ])('parses %s', (text, keys) => {
    expect([...(parseSfDictionary(text)?.keys() ?? ['failed'])]).toEqual(keys);
  });

  it.each([
    'A=1',
    'a=1,',
    'a=(1 2',
    'a="unterminated',
    'a="bad \\escape"',
    'a=1.2345',
    'a=1234567890123456',
    'a=1234567890123.5',
    'a=?2',
    'a=:not base64!:',
    'a=1 b=2',
    'a=(1)(2)',
    'a=1.',
  ])('refuses %s', (text) => {
    expect(parseSfDictionary(text)).toBeNull();
  });

  it('serializes an inner list canonically (RFC 8941 §4.1)', () => {
    const parsed = parseSfDictionary(
      'sig=("a" tok :AAEC: ?0 -12 1.50);created=1;x;y=?0;s="q\\"\\\\";t=tok/en;d=-0.25;b=:AA==:',
    );
    const list = parsed?.get('sig') as SfInnerList;
    expect(serializeSfInnerList(list)).toBe(
      '("a" tok :AAEC: ?0 -12 1.5);created=1;x;y=?0;s="q\\"\\\\";t=tok/en;d=-0.25;b=:AA==:',
    );
  });
});
