import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/app-error.js';
import { INGEST_ENCODINGS, INGEST_SAMPLE_RATES_HZ } from '../domain/audio-format.js';
import { defaultSampleRateHz, parseGenericIngestParams, withPbxMetadata } from './generic-ingest-params.js';

const parse = (query: string) => parseGenericIngestParams(new URLSearchParams(query));

function errorOf(query: string): AppError {
  try {
    parse(query);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`expected ${query} to be refused`);
}

describe('parseGenericIngestParams', () => {
  it('defaults to one caller sending 16 kHz mono pcm16', () => {
    expect(parse('token=abc')).toEqual({
      participants: ['caller'],
      encoding: 'pcm16',
      sampleRateHz: 16_000,
      channels: 1,
    });
  });

  it('defaults G.711 encodings to 8000 Hz', () => {
    expect(parse('encoding=mulaw').sampleRateHz).toBe(8000);
    expect(parse('encoding=alaw').sampleRateHz).toBe(8000);
    expect(defaultSampleRateHz('pcm16')).toBe(16_000);
  });

  it('parses the SPEC example query', () => {
    expect(parse('token=t&participant=caller&encoding=pcm16&sample_rate=8000&channels=1')).toEqual({
      participants: ['caller'],
      encoding: 'pcm16',
      sampleRateHz: 8000,
      channels: 1,
    });
  });

  it('names both participants of an interleaved stereo stream in channel order', () => {
    expect(parse('channels=2').participants).toEqual(['caller', 'agent']);
    const params = parse('participant=agent,caller&channels=2&encoding=mulaw&sample_rate=8000');
    expect(params.participants).toEqual(['agent', 'caller']);
    expect(params.channels).toBe(2);
  });

  it('returns a frozen result', () => {
    const params = parse('');
    expect(Object.isFrozen(params)).toBe(true);
    expect(Object.isFrozen(params.participants)).toBe(true);
  });

  it.each([
    ['encoding=opus', 'encoding must be one of pcm16, mulaw, alaw'],
    ['encoding=PCM16', 'encoding must be one of pcm16, mulaw, alaw'],
    ['encoding=', 'encoding must be one of pcm16, mulaw, alaw'],
    ['sample_rate=44100', 'sample_rate must be one of 8000, 16000, 24000, 32000, 48000'],
    ['sample_rate=08000', 'sample_rate must be one of 8000, 16000, 24000, 32000, 48000'],
    ['sample_rate=8000.0', 'sample_rate must be one of 8000, 16000, 24000, 32000, 48000'],
    ['sample_rate=', 'sample_rate must be one of 8000, 16000, 24000, 32000, 48000'],
    ['channels=3', 'channels must be 1 or 2'],
    ['channels=0', 'channels must be 1 or 2'],
    ['channels=', 'channels must be 1 or 2'],
    ['encoding=pcm16&encoding=mulaw', 'encoding must be given at most once'],
    ['sample_rate=8000&sample_rate=8000', 'sample_rate must be given at most once'],
    ['participant=a&participant=b', 'participant must be given at most once'],
    ['participant=', 'participant names must be 1-64 characters of [A-Za-z0-9_.-]'],
    ['participant=bad%20name', 'participant names must be 1-64 characters of [A-Za-z0-9_.-]'],
    [`participant=${'p'.repeat(65)}`, 'participant names must be 1-64 characters of [A-Za-z0-9_.-]'],
    ['participant=a,b', 'participant must be one name when channels=1 (a,b needs channels=2)'],
    ['channels=2&participant=a', 'participant must be two names a,b when channels=2'],
    ['channels=2&participant=a,b,c', 'participant must be two names a,b when channels=2'],
    ['channels=2&participant=a,', 'participant names must be 1-64 characters of [A-Za-z0-9_.-]'],
    ['channels=2&participant=a,a', 'participant names must be distinct'],
  ])('refuses %s with a 400 naming the parameter', (query, message) => {
    const err = errorOf(query);
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.status).toBe(400);
    expect(err.message).toBe(message);
  });

  it('accepts every combination of allowed values', () => {
    for (const encoding of INGEST_ENCODINGS) {
      for (const rate of INGEST_SAMPLE_RATES_HZ) {
        expect(parse(`encoding=${encoding}&sample_rate=${rate}&channels=2&participant=l,r`)).toEqual({
          participants: ['l', 'r'],
          encoding,
          sampleRateHz: rate,
          channels: 2,
        });
      }
    }
  });

  it('either accepts a random query or refuses it with a short VALIDATION_ERROR', () => {
    const key = fc.constantFrom('participant', 'encoding', 'sample_rate', 'channels', 'token', 'x');
    const value = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('pcm16', 'mulaw', 'alaw', '8000', '16000', '48000', '1', '2', 'a,b', 'caller', 'a,a'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 6 }), (pairs) => {
        const query = new URLSearchParams(pairs);
        let result: ReturnType<typeof parseGenericIngestParams>;
        try {
          result = parseGenericIngestParams(query);
        } catch (err) {
          expect(err).toBeInstanceOf(AppError);
          expect((err as AppError).code).toBe('VALIDATION_ERROR');
          expect(Buffer.byteLength((err as AppError).message)).toBeLessThanOrEqual(120);
          return;
        }
        expect(result.participants).toHaveLength(result.channels);
        expect(INGEST_ENCODINGS).toContain(result.encoding);
        expect(INGEST_SAMPLE_RATES_HZ).toContain(result.sampleRateHz);
      }),
    );
  });
});

describe("withPbxMetadata (a PBX's first text declaring the format, SPEC §4.6)", () => {
  const jambonz = (extra: Record<string, unknown>) => ({
    callSid: 'c1',
    from: '+1555',
    to: '+1666',
    ...extra,
  });

  it("takes jambonz's sampleRate and mixType over the query's defaults", () => {
    const stereo = withPbxMetadata(parse(''), jambonz({ sampleRate: 8000, mixType: 'stereo' }));
    expect(stereo).toEqual({
      participants: ['caller', 'agent'],
      encoding: 'pcm16',
      sampleRateHz: 8000,
      channels: 2,
    });
    const mixed = withPbxMetadata(
      parse('channels=2&participant=a,b'),
      jambonz({ sampleRate: 24000, mixType: 'mixed' }),
    );
    expect(mixed).toEqual({ participants: ['caller'], encoding: 'pcm16', sampleRateHz: 24000, channels: 1 });
  });

  it("keeps the query's names when the channel count stays", () => {
    const params = parse('participant=alice&sample_rate=8000');
    expect(withPbxMetadata(params, jambonz({ sampleRate: 16000, mixType: 'mono' }))).toEqual({
      participants: ['alice'],
      encoding: 'pcm16',
      sampleRateHz: 16000,
      channels: 1,
    });
  });

  it("changes nothing for metadata that declares nothing (mod_audio_fork's free-form JSON, or none)", () => {
    const params = parse('sample_rate=8000');
    for (const metadata of [null, 'text', 42, [], { agent: '4711' }, jambonz({})])
      expect(withPbxMetadata(params, metadata)).toBe(params);
  });

  it.each([
    [{ sampleRate: 44100 }],
    [{ sampleRate: '8000' }],
    [{ sampleRate: null }],
    [{ mixType: 'quad' }],
    [{ mixType: 2 }],
  ])('refuses %j with UNSUPPORTED_DATA (close 1003)', (metadata) => {
    expect(() => withPbxMetadata(parse(''), metadata)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_DATA' }) as unknown as Error,
    );
  });
});
