/** Every variable loadConfig reads, with its default (undefined: unset). */
export const CONFIG_VARIABLES = {
  EARSHOT_HOST: '127.0.0.1',
  EARSHOT_PORT: '8080',
  EARSHOT_DATABASE_URL: 'sqlite:./data/earshot.db',
  EARSHOT_NATS_URL: undefined,
  EARSHOT_NATS_PREFIX: 'earshot',
  EARSHOT_PUBLIC_URL: undefined,
  EARSHOT_ADMIN_TOKEN: undefined,
  EARSHOT_LISTEN_TOKEN_TTL_S: '3600',
  EARSHOT_CALL_IDLE_TIMEOUT_S: '300',
  EARSHOT_LOG_LEVEL: 'info',
  EARSHOT_LOG_FORMAT: 'auto',
  EARSHOT_TRUST_PROXY: 'false',
  EARSHOT_RATE_LIMIT_PER_MIN: '600',
  EARSHOT_WRITE_COALESCING: 'auto',
  EARSHOT_MEDIA_WORKERS: 'auto',
  EARSHOT_DIRECT_WRITES: 'auto',
  EARSHOT_OPUS_COMPLEXITY: '5',
  EARSHOT_AUTH_FAILURES_PER_MIN: '30',
  EARSHOT_MAX_LISTENERS_PER_CALL: '200',
  EARSHOT_MAX_LISTENERS_PER_ORG: '2000',
  EARSHOT_MAX_PARTICIPANTS_PER_CALL: '32',
  EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: '1000',
  EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: '500',
  EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS: '256',
  EARSHOT_METRICS_TOKEN: undefined,
  EARSHOT_METRICS_LISTEN: undefined,
  EARSHOT_AUDIOSOCKET_LISTEN: undefined,
  EARSHOT_AUDIOSOCKET_INGEST_KEY: undefined,
  EARSHOT_RTP_PORTS: undefined,
  EARSHOT_RTP_HOST: undefined,
  EARSHOT_RTP_IDLE_TIMEOUT_S: '30',
} as const satisfies Record<string, string | undefined>;

export type ConfigVariable = keyof typeof CONFIG_VARIABLES;
export type ConfigOverrides = Partial<Record<ConfigVariable, string>>;

export class ConfigError extends Error {
  readonly variable: ConfigVariable;
  constructor(variable: ConfigVariable, problem: string) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}
