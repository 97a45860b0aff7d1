import { describe, expect, it } from 'vitest';
import { credentialFrom, ingestCredentialFrom } from './credentials.js';

describe('credentials from an Authorization header', () => {
  it('takes the key as it is or after Bearer', () => {
    expect(credentialFrom('esk_abc')).toBe('esk_abc');
    expect(credentialFrom('Bearer esk_abc')).toBe('esk_abc');
    expect(credentialFrom('  ')).toBeNull();
    expect(credentialFrom(undefined)).toBeNull();
  });

  it('on ingest, also takes the password of HTTP Basic (FreeSWITCH, jambonz), and nothing from a Basic without one', () => {
    const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    expect(ingestCredentialFrom(basic('freeswitch:eik_key'))).toBe('eik_key');
    expect(ingestCredentialFrom(basic('user:pass:with:colons'))).toBe('pass:with:colons');
    expect(ingestCredentialFrom(basic('no-colon'))).toBeNull();
    expect(ingestCredentialFrom(basic('user:'))).toBeNull();
    expect(ingestCredentialFrom('Bearer eik_key')).toBe('eik_key');
    expect(ingestCredentialFrom('eik_key')).toBe('eik_key');
    expect(ingestCredentialFrom(undefined)).toBeNull();
  });
});
