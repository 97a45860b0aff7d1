import type { Limits } from '../domain/limits.js';
import { DIRECT_WRITES, type DirectWrites, WRITE_COALESCING, type WriteCoalescing } from '../live/modes.js';
import { LOG_FORMATS, type LogFormatSetting, type LogLevel } from '../observability/logger.js';
import type { DatabaseConfig } from '../store/open-store.js';
import {
  parseDatabaseUrl,
  parseHost,
  parseHostPort,
  parseInteger,
  parseLogLevel,
  parseMediaWorkers,
  parseNatsPrefix,
  parseNatsUrl,
  parseOneOf,
  parsePortRange,
  parsePublicUrl,
  parseRtpHost,
  parseTrustProxy,
} from './parsers.js';
import { CONFIG_VARIABLES, ConfigError, type ConfigOverrides, type ConfigVariable } from './variables.js';

/**
 * The only reader of the server's environment: `loadConfig` validates every EARSHOT_* variable of
 * SPEC section 1 (plus the documented extensions) and returns a frozen Config, or throws
 * ConfigError naming the variable. CLI flags (`--port 9000`) arrive as overrides keyed by the same
 * variable names. (The CLI's client commands read their own two, `EARSHOT_API_KEY` and
 * `EARSHOT_URL`, in cli/api-client.ts.) The types of the values are declared where they are used:
 * the database's in store/, the log's in observability/, the write modes in live/.
 */

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly database: DatabaseConfig;
  /** NATS servers; empty means the in-process bus (single node). */
  readonly natsServers: readonly string[];
  /** First token(s) of every NATS subject this node uses; nodes of one cluster share it. */
  readonly natsPrefix: string;
  /** Base URL for returned ws(s):// URLs, without trailing slash; null: derived from each request. */
  readonly publicUrl: string | null;
  /** Bearer token for /admin/v1/*; null: admin API off. */
  readonly adminToken: string | null;
  readonly listenTokenTtlS: number;
  readonly callIdleTimeoutS: number;
  readonly logLevel: LogLevel;
  /** How `earshot serve` writes its log: `auto` (pretty on a terminal, else JSON), `json`, `pretty`. */
  readonly logFormat: LogFormatSetting;
  /** Fastify `trustProxy`: false, true, a hop count, or a comma list of addresses/CIDRs. */
  readonly trustProxy: boolean | number | string;
  /** Requests per minute allowed per API key (per client address when unauthenticated). */
  readonly rateLimitPerMin: number;
  /**
   * Whether listener messages may be written several ticks at a time (one `writev` per k × 20 ms):
   * `auto` while the event loop is busy (k up to 3), `off` never, `always` with k = 2.
   */
  readonly writeCoalescing: WriteCoalescing;
  /**
   * Media worker processes that own the real-time path of the calls placed on them (ingest,
   * mixing, listeners); 0: everything in the main process. `auto` resolves to one per core beyond
   * the first.
   */
  readonly mediaWorkers: number;
  /**
   * Whether listener messages are written through the native addon, one call per message for all
   * its listeners: `auto` when it is built, `on` (refuse to start without it), `off`.
   */
  readonly directWrites: DirectWrites;
  /**
   * libopus's encoder complexity for `encoding=opus` listeners (0–10): CPU per call against quality.
   * One encoder runs per call and Opus format, whatever the number of listeners.
   */
  readonly opusComplexity: number;
  /** Failed authentications allowed per client address per minute; past it the address gets 429. */
  readonly authFailuresPerMin: number;
  /** The limits of SPEC §7 (docs/api.md says which hold per node and which cluster-wide). */
  readonly limits: Limits;
  /**
   * Plain HTTP connections (not WebSockets) one peer address may hold at once; past it a request is
   * answered 429 and its connection closed (not applied behind a trusted proxy).
   */
  readonly httpConnectionsPerAddress: number;
  /** Bearer token /metrics requires; null: /metrics is open (or served only on `metricsListen`). */
  readonly metricsToken: string | null;
  /** A separate address for /metrics (`host:port`); null: /metrics is served on the main port. */
  readonly metricsListen: { readonly host: string; readonly port: number } | null;
  /**
   * Asterisk AudioSocket (SPEC §4.6): the TCP address it is served on and the ingest key whose
   * organization its calls belong to; null: off (the default).
   */
  readonly audiosocket: {
    readonly listen: { readonly host: string; readonly port: number };
    readonly ingestKey: string;
  } | null;
  /**
   * RTP ports (SPEC §4.6, `POST /v1/calls/{id}/rtp`): the even ports of `ports` bound on `host`
   * (EARSHOT_RTP_HOST, else EARSHOT_HOST; a wildcard address is answered with the host name the
   * request came to), each released after `idleTimeoutS` without a packet; null: off (the default).
   */
  readonly rtp: {
    readonly ports: { readonly first: number; readonly last: number };
    readonly host: string;
    readonly idleTimeoutS: number;
  } | null;
}

export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: ConfigOverrides = {},
): Config {
  const get = (name: ConfigVariable): string | undefined => {
    const raw = overrides[name] ?? env[name];
    const value = raw === undefined || raw.trim() === '' ? CONFIG_VARIABLES[name] : raw.trim();
    return value;
  };
  const required = (name: ConfigVariable): string => get(name) as string;

  const integer = (name: ConfigVariable, min: number, max: number) =>
    parseInteger(name, required(name), min, max);
  const secret = (name: ConfigVariable): string | null => {
    const value = get(name) ?? null;
    if (value !== null && value.length < 16)
      throw new ConfigError(name, 'must be at least 16 characters long');
    return value;
  };
  const adminToken = secret('EARSHOT_ADMIN_TOKEN');
  const metricsToken = secret('EARSHOT_METRICS_TOKEN');

  const host = parseHost(required('EARSHOT_HOST'));
  const rtpPorts = parsePortRange(get('EARSHOT_RTP_PORTS'));
  const rtpHost = get('EARSHOT_RTP_HOST');
  const rtpIdleTimeoutS = integer('EARSHOT_RTP_IDLE_TIMEOUT_S', 1, 3600);
  if (rtpPorts === null && rtpHost !== undefined)
    throw new ConfigError('EARSHOT_RTP_HOST', 'needs EARSHOT_RTP_PORTS (RTP is off without a port range)');

  return Object.freeze({
    host,
    port: parseInteger('EARSHOT_PORT', required('EARSHOT_PORT'), 0, 65535),
    database: parseDatabaseUrl(required('EARSHOT_DATABASE_URL')),
    natsServers: Object.freeze(parseNatsUrl(get('EARSHOT_NATS_URL'))),
    natsPrefix: parseNatsPrefix(required('EARSHOT_NATS_PREFIX')),
    publicUrl: parsePublicUrl(get('EARSHOT_PUBLIC_URL')),
    adminToken,
    listenTokenTtlS: parseInteger(
      'EARSHOT_LISTEN_TOKEN_TTL_S',
      required('EARSHOT_LISTEN_TOKEN_TTL_S'),
      1,
      31_536_000,
    ),
    callIdleTimeoutS: parseInteger(
      'EARSHOT_CALL_IDLE_TIMEOUT_S',
      required('EARSHOT_CALL_IDLE_TIMEOUT_S'),
      1,
      86_400,
    ),
    logLevel: parseLogLevel(required('EARSHOT_LOG_LEVEL')),
    logFormat: parseOneOf('EARSHOT_LOG_FORMAT', LOG_FORMATS, required('EARSHOT_LOG_FORMAT').toLowerCase()),
    trustProxy: parseTrustProxy(required('EARSHOT_TRUST_PROXY')),
    rateLimitPerMin: parseInteger(
      'EARSHOT_RATE_LIMIT_PER_MIN',
      required('EARSHOT_RATE_LIMIT_PER_MIN'),
      1,
      1_000_000,
    ),
    writeCoalescing: parseOneOf(
      'EARSHOT_WRITE_COALESCING',
      WRITE_COALESCING,
      required('EARSHOT_WRITE_COALESCING').toLowerCase(),
    ),
    mediaWorkers: parseMediaWorkers(required('EARSHOT_MEDIA_WORKERS')),
    directWrites: parseOneOf(
      'EARSHOT_DIRECT_WRITES',
      DIRECT_WRITES,
      required('EARSHOT_DIRECT_WRITES').toLowerCase(),
    ),
    opusComplexity: integer('EARSHOT_OPUS_COMPLEXITY', 0, 10),
    authFailuresPerMin: integer('EARSHOT_AUTH_FAILURES_PER_MIN', 1, 1_000_000),
    limits: Object.freeze({
      listenersPerCall: integer('EARSHOT_MAX_LISTENERS_PER_CALL', 1, 1_000_000),
      listenersPerOrg: integer('EARSHOT_MAX_LISTENERS_PER_ORG', 1, 1_000_000),
      participantsPerCall: integer('EARSHOT_MAX_PARTICIPANTS_PER_CALL', 1, 10_000),
      activeCallsPerOrg: integer('EARSHOT_MAX_ACTIVE_CALLS_PER_ORG', 1, 10_000_000),
      connectionsPerAddress: integer('EARSHOT_MAX_CONNECTIONS_PER_ADDRESS', 1, 1_000_000),
    }),
    httpConnectionsPerAddress: integer('EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS', 1, 1_000_000),
    metricsToken,
    metricsListen: parseHostPort('EARSHOT_METRICS_LISTEN', get('EARSHOT_METRICS_LISTEN')),
    audiosocket: parseAudioSocket(
      parseHostPort('EARSHOT_AUDIOSOCKET_LISTEN', get('EARSHOT_AUDIOSOCKET_LISTEN')),
      get('EARSHOT_AUDIOSOCKET_INGEST_KEY') ?? null,
    ),
    rtp:
      rtpPorts === null
        ? null
        : Object.freeze({
            ports: rtpPorts,
            host: rtpHost === undefined ? host : parseRtpHost(rtpHost),
            idleTimeoutS: rtpIdleTimeoutS,
          }),
  });
}

/** AudioSocket is on with both its address and an ingest key (`eik_…`), off with neither. */
function parseAudioSocket(
  listen: { host: string; port: number } | null,
  ingestKey: string | null,
): Config['audiosocket'] {
  if (listen === null && ingestKey === null) return null;
  if (listen === null)
    throw new ConfigError('EARSHOT_AUDIOSOCKET_INGEST_KEY', 'needs EARSHOT_AUDIOSOCKET_LISTEN (host:port)');
  if (ingestKey === null)
    throw new ConfigError(
      'EARSHOT_AUDIOSOCKET_LISTEN',
      'needs EARSHOT_AUDIOSOCKET_INGEST_KEY (an ingest key, eik_…): AudioSocket has no credentials of its own',
    );
  if (!ingestKey.startsWith('eik_'))
    throw new ConfigError('EARSHOT_AUDIOSOCKET_INGEST_KEY', 'must be an ingest key (eik_…)');
  return Object.freeze({ listen, ingestKey });
}
