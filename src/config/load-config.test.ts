import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config.js';
import { parseMediaWorkers } from './parsers.js';
import { CONFIG_VARIABLES, ConfigError, type ConfigVariable } from './variables.js';

/** The ConfigError loadConfig throws for this environment (fails the test when it does not throw). */
function errorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('gives exactly the defaults of SPEC section 1 (and the documented extensions) for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      database: { kind: 'sqlite', path: './data/earshot.db' },
      natsServers: [],
      natsPrefix: 'earshot',
      publicUrl: null,
      adminToken: null,
      listenTokenTtlS: 3600,
      callIdleTimeoutS: 300,
      logLevel: 'info',
      logFormat: 'auto',
      trustProxy: false,
      rateLimitPerMin: 600,
      writeCoalescing: 'auto',
      mediaWorkers: Math.min(64, Math.max(0, availableParallelism() - 1)),
      directWrites: 'auto',
      opusComplexity: 5,
      authFailuresPerMin: 30,
      limits: {
        listenersPerCall: 200,
        listenersPerOrg: 2000,
        participantsPerCall: 32,
        activeCallsPerOrg: 1000,
        connectionsPerAddress: 500,
      },
      httpConnectionsPerAddress: 256,
      metricsToken: null,
      metricsListen: null,
      audiosocket: null,
      rtp: null,
    });
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ EARSHOT_NOPE: 'x', PORT: '1', HOST: '0.0.0.0' })).toEqual(loadConfig({}));
  });

  it('reads every variable when set', () => {
    const config = loadConfig({
      EARSHOT_HOST: '0.0.0.0',
      EARSHOT_PORT: '0',
      EARSHOT_DATABASE_URL: 'postgres://user:pw@db.internal:5432/earshot',
      EARSHOT_NATS_URL: 'nats://a:4222, nats://b:4222',
      EARSHOT_NATS_PREFIX: 'prod.earshot-eu_1',
      EARSHOT_PUBLIC_URL: 'https://listen.example.com/base/',
      EARSHOT_ADMIN_TOKEN: 'a'.repeat(16),
      EARSHOT_LISTEN_TOKEN_TTL_S: '60',
      EARSHOT_CALL_IDLE_TIMEOUT_S: '1',
      EARSHOT_LOG_LEVEL: 'trace',
      EARSHOT_LOG_FORMAT: 'JSON',
      EARSHOT_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      EARSHOT_RATE_LIMIT_PER_MIN: '3',
      EARSHOT_WRITE_COALESCING: 'Off',
      EARSHOT_MEDIA_WORKERS: '3',
      EARSHOT_DIRECT_WRITES: 'OFF',
      EARSHOT_OPUS_COMPLEXITY: '0',
      EARSHOT_AUTH_FAILURES_PER_MIN: '5',
      EARSHOT_MAX_LISTENERS_PER_CALL: '2',
      EARSHOT_MAX_LISTENERS_PER_ORG: '3',
      EARSHOT_MAX_PARTICIPANTS_PER_CALL: '4',
      EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: '5',
      EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: '6',
      EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS: '7',
      EARSHOT_METRICS_TOKEN: 'm'.repeat(16),
      EARSHOT_METRICS_LISTEN: '[::1]:9100',
      EARSHOT_AUDIOSOCKET_LISTEN: '10.0.0.5:9092',
      EARSHOT_AUDIOSOCKET_INGEST_KEY: 'eik_abc',
      EARSHOT_RTP_PORTS: '40000-40999',
      EARSHOT_RTP_HOST: '203.0.113.7',
      EARSHOT_RTP_IDLE_TIMEOUT_S: '5',
    });
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 0,
      database: { kind: 'postgres', url: 'postgres://user:pw@db.internal:5432/earshot' },
      natsServers: ['nats://a:4222', 'nats://b:4222'],
      natsPrefix: 'prod.earshot-eu_1',
      publicUrl: 'https://listen.example.com/base',
      adminToken: 'a'.repeat(16),
      listenTokenTtlS: 60,
      callIdleTimeoutS: 1,
      logLevel: 'trace',
      logFormat: 'json',
      trustProxy: '10.0.0.0/8, 127.0.0.1',
      rateLimitPerMin: 3,
      writeCoalescing: 'off',
      mediaWorkers: 3,
      directWrites: 'off',
      opusComplexity: 0,
      authFailuresPerMin: 5,
      limits: {
        listenersPerCall: 2,
        listenersPerOrg: 3,
        participantsPerCall: 4,
        activeCallsPerOrg: 5,
        connectionsPerAddress: 6,
      },
      httpConnectionsPerAddress: 7,
      metricsToken: 'm'.repeat(16),
      metricsListen: { host: '::1', port: 9100 },
      audiosocket: { listen: { host: '10.0.0.5', port: 9092 }, ingestKey: 'eik_abc' },
      rtp: { ports: { first: 40000, last: 40999 }, host: '203.0.113.7', idleTimeoutS: 5 },
    });
  });

  it.each([
    ['sqlite:./x.db', { kind: 'sqlite', path: './x.db' }],
    ['sqlite:/var/lib/earshot.db', { kind: 'sqlite', path: '/var/lib/earshot.db' }],
    ['sqlite:///var/lib/earshot.db', { kind: 'sqlite', path: '/var/lib/earshot.db' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['postgresql://h/db', { kind: 'postgres', url: 'postgresql://h/db' }],
  ])('parses the database URL %s', (url, expected) => {
    expect(loadConfig({ EARSHOT_DATABASE_URL: url }).database).toEqual(expected);
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['127.0.0.1', '127.0.0.1'],
    ['::1, 10.0.0.0/8', '::1, 10.0.0.0/8'],
    ['fd00::/8', 'fd00::/8'],
  ])('parses EARSHOT_TRUST_PROXY=%s', (value, expected) => {
    expect(loadConfig({ EARSHOT_TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each<[ConfigVariable, string]>([
    ['EARSHOT_HOST', 'my host'],
    ['EARSHOT_HOST', 'http://x'],
    ['EARSHOT_PORT', '70000'],
    ['EARSHOT_PORT', '65536'],
    ['EARSHOT_PORT', 'abc'],
    ['EARSHOT_PORT', '-1'],
    ['EARSHOT_PORT', '80.5'],
    ['EARSHOT_DATABASE_URL', 'mysql://localhost/earshot'],
    ['EARSHOT_DATABASE_URL', 'sqlite:'],
    ['EARSHOT_DATABASE_URL', './data/earshot.db'],
    ['EARSHOT_DATABASE_URL', 'postgres://bad host/db'],
    ['EARSHOT_NATS_URL', 'http://x'],
    ['EARSHOT_NATS_URL', 'nats://a:4222,not a url'],
    ['EARSHOT_NATS_PREFIX', 'earshot.*'],
    ['EARSHOT_NATS_PREFIX', 'earshot.>'],
    ['EARSHOT_NATS_PREFIX', 'a..b'],
    ['EARSHOT_NATS_PREFIX', '.earshot'],
    ['EARSHOT_NATS_PREFIX', 'earshot.'],
    ['EARSHOT_NATS_PREFIX', 'ear shot'],
    ['EARSHOT_NATS_PREFIX', '_INBOX'],
    ['EARSHOT_NATS_PREFIX', 'x'.repeat(65)],
    ['EARSHOT_PUBLIC_URL', 'ftp://x.example.com'],
    ['EARSHOT_PUBLIC_URL', 'https://x.example.com/?a=1'],
    ['EARSHOT_PUBLIC_URL', 'https://x.example.com/#top'],
    ['EARSHOT_PUBLIC_URL', 'listen.example.com'],
    ['EARSHOT_ADMIN_TOKEN', 'too-short'],
    ['EARSHOT_ADMIN_TOKEN', 'a'.repeat(15)],
    ['EARSHOT_LISTEN_TOKEN_TTL_S', '0'],
    ['EARSHOT_LISTEN_TOKEN_TTL_S', '1.5'],
    ['EARSHOT_LISTEN_TOKEN_TTL_S', 'forever'],
    ['EARSHOT_CALL_IDLE_TIMEOUT_S', '0'],
    ['EARSHOT_CALL_IDLE_TIMEOUT_S', '86401'],
    ['EARSHOT_LOG_LEVEL', 'loud'],
    ['EARSHOT_LOG_LEVEL', 'INFO'],
    ['EARSHOT_LOG_FORMAT', 'text'],
    ['EARSHOT_LOG_FORMAT', 'colour'],
    ['EARSHOT_TRUST_PROXY', 'garbage'],
    ['EARSHOT_TRUST_PROXY', 'yes'],
    ['EARSHOT_TRUST_PROXY', 'cafe'],
    ['EARSHOT_TRUST_PROXY', '10.0.0.0/8,beef'],
    ['EARSHOT_TRUST_PROXY', '999.1.1.1'],
    ['EARSHOT_TRUST_PROXY', '10.0.0.0/33'],
    ['EARSHOT_TRUST_PROXY', '10.0.0.0/8/8'],
    ['EARSHOT_TRUST_PROXY', '127.0.0.1,'],
    ['EARSHOT_RATE_LIMIT_PER_MIN', '0'],
    ['EARSHOT_RATE_LIMIT_PER_MIN', 'lots'],
    ['EARSHOT_WRITE_COALESCING', 'sometimes'],
    ['EARSHOT_MEDIA_WORKERS', '-1'],
    ['EARSHOT_MEDIA_WORKERS', '65'],
    ['EARSHOT_MEDIA_WORKERS', 'two'],
    ['EARSHOT_DIRECT_WRITES', 'yes'],
    ['EARSHOT_AUTH_FAILURES_PER_MIN', '0'],
    ['EARSHOT_OPUS_COMPLEXITY', '11'],
    ['EARSHOT_MAX_LISTENERS_PER_CALL', '0'],
    ['EARSHOT_MAX_LISTENERS_PER_ORG', 'many'],
    ['EARSHOT_MAX_PARTICIPANTS_PER_CALL', '-2'],
    ['EARSHOT_MAX_ACTIVE_CALLS_PER_ORG', '1.5'],
    ['EARSHOT_MAX_CONNECTIONS_PER_ADDRESS', '0'],
    ['EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS', '0'],
    ['EARSHOT_METRICS_TOKEN', 'short'],
    ['EARSHOT_METRICS_LISTEN', '9100'],
    ['EARSHOT_METRICS_LISTEN', 'host:99999'],
    ['EARSHOT_METRICS_LISTEN', '::1:9100'],
  ])('throws ConfigError naming %s for %j', (variable, value) => {
    const error = errorFor({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable} `)).toBe(true);
    expect(error.name).toBe('ConfigError');
  });

  it('never puts the admin token in the error message', () => {
    expect(errorFor({ EARSHOT_ADMIN_TOKEN: 'secret-ish' }).message).not.toContain('secret-ish');
  });

  it('accepts the edges of every range', () => {
    expect(loadConfig({ EARSHOT_PORT: '65535' }).port).toBe(65535);
    expect(loadConfig({ EARSHOT_PORT: '0' }).port).toBe(0);
    expect(loadConfig({ EARSHOT_LISTEN_TOKEN_TTL_S: '1' }).listenTokenTtlS).toBe(1);
    expect(loadConfig({ EARSHOT_CALL_IDLE_TIMEOUT_S: '86400' }).callIdleTimeoutS).toBe(86400);
    expect(loadConfig({ EARSHOT_ADMIN_TOKEN: 'b'.repeat(16) }).adminToken).toBe('b'.repeat(16));
  });

  it('lets overrides win over the environment', () => {
    const config = loadConfig(
      { EARSHOT_PORT: '1000', EARSHOT_DATABASE_URL: 'sqlite:env.db', EARSHOT_LOG_LEVEL: 'debug' },
      { EARSHOT_PORT: '2000', EARSHOT_DATABASE_URL: 'sqlite:flag.db' },
    );
    expect(config.port).toBe(2000);
    expect(config.database).toEqual({ kind: 'sqlite', path: 'flag.db' });
    expect(config.logLevel).toBe('debug');
  });

  it('validates overrides like the environment, naming the variable', () => {
    expect(() => loadConfig({ EARSHOT_PORT: '1000' }, { EARSHOT_PORT: 'abc' })).toThrow(/^EARSHOT_PORT /);
  });

  it('falls back to the default for blank values, and trims values', () => {
    const blank = Object.fromEntries(Object.keys(CONFIG_VARIABLES).map((name) => [name, '  ']));
    expect(loadConfig(blank)).toEqual(loadConfig({}));
    const empty = Object.fromEntries(Object.keys(CONFIG_VARIABLES).map((name) => [name, '']));
    expect(loadConfig(empty)).toEqual(loadConfig({}));
    expect(loadConfig({ EARSHOT_PORT: ' 9000 ', EARSHOT_LOG_LEVEL: 'warn\n' })).toMatchObject({
      port: 9000,
      logLevel: 'warn',
    });
  });

  it('reads process.env by default', () => {
    const saved = process.env.EARSHOT_PORT;
    process.env.EARSHOT_PORT = '4321';
    try {
      expect(loadConfig().port).toBe(4321);
    } finally {
      if (saved === undefined) delete process.env.EARSHOT_PORT;
      else process.env.EARSHOT_PORT = saved;
    }
  });

  it('returns a frozen result, down to the database and NATS settings', () => {
    const config = loadConfig({ EARSHOT_NATS_URL: 'nats://a:4222' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(Object.isFrozen(config.natsServers)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});

describe('RTP ports', () => {
  it('are off by default, and bound on EARSHOT_HOST unless EARSHOT_RTP_HOST says otherwise', () => {
    expect(loadConfig({}).rtp).toBeNull();
    expect(loadConfig({ EARSHOT_HOST: '10.1.2.3', EARSHOT_RTP_PORTS: '40000' }).rtp).toEqual({
      ports: { first: 40000, last: 40000 },
      host: '10.1.2.3',
      idleTimeoutS: 30,
    });
    expect(loadConfig({ EARSHOT_RTP_PORTS: ' 20000 - 20099 ' }).rtp?.ports).toEqual({
      first: 20000,
      last: 20099,
    });
  });

  it.each([
    ['EARSHOT_RTP_PORTS', { EARSHOT_RTP_PORTS: '40000-' }],
    ['EARSHOT_RTP_PORTS', { EARSHOT_RTP_PORTS: '500-600' }],
    ['EARSHOT_RTP_PORTS', { EARSHOT_RTP_PORTS: '40999-40000' }],
    ['EARSHOT_RTP_PORTS', { EARSHOT_RTP_PORTS: '65535-70000' }],
    ['EARSHOT_RTP_PORTS', { EARSHOT_RTP_PORTS: '40001' }],
    ['EARSHOT_RTP_HOST', { EARSHOT_RTP_HOST: '10.0.0.1' }],
    ['EARSHOT_RTP_HOST', { EARSHOT_RTP_PORTS: '40000-40010', EARSHOT_RTP_HOST: 'a b' }],
    ['EARSHOT_RTP_IDLE_TIMEOUT_S', { EARSHOT_RTP_PORTS: '40000-40010', EARSHOT_RTP_IDLE_TIMEOUT_S: '0' }],
  ])('%s is refused when wrong: %j', (variable, env) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} `));
  });
});

describe('EARSHOT_MEDIA_WORKERS', () => {
  it("`auto` is one worker per core beyond the control plane's, none on one core, at most 64", () => {
    expect(parseMediaWorkers('auto', 1)).toBe(0);
    expect(parseMediaWorkers('AUTO', 2)).toBe(1);
    expect(parseMediaWorkers('auto', 16)).toBe(15);
    expect(parseMediaWorkers('auto', 128)).toBe(64);
    expect(parseMediaWorkers('0', 16)).toBe(0);
  });
});
