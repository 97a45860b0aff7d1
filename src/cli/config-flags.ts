import type { Command } from 'commander';
import { CONFIG_VARIABLES, type ConfigOverrides, type ConfigVariable } from '../config/variables.js';

/**
 * Every configuration variable has a flag of the same name (EARSHOT_LISTEN_TOKEN_TTL_S →
 * `--listen-token-ttl-s`) that overrides it. This table only names each flag's value; it must list
 * every variable of CONFIG_VARIABLES (the type says so), so a new variable cannot lack its flag.
 */
const FLAG_VALUES = {
  EARSHOT_HOST: 'host',
  EARSHOT_PORT: 'port',
  EARSHOT_DATABASE_URL: 'url',
  EARSHOT_NATS_URL: 'urls',
  EARSHOT_NATS_PREFIX: 'prefix',
  EARSHOT_PUBLIC_URL: 'url',
  EARSHOT_ADMIN_TOKEN: 'token',
  EARSHOT_LISTEN_TOKEN_TTL_S: 'seconds',
  EARSHOT_CALL_IDLE_TIMEOUT_S: 'seconds',
  EARSHOT_LOG_LEVEL: 'level',
  EARSHOT_LOG_FORMAT: 'auto|json|pretty',
  EARSHOT_TRUST_PROXY: 'proxies',
  EARSHOT_RATE_LIMIT_PER_MIN: 'n',
  EARSHOT_WRITE_COALESCING: 'auto|off|always',
  EARSHOT_MEDIA_WORKERS: 'n|auto',
  EARSHOT_DIRECT_WRITES: 'auto|on|off',
  EARSHOT_OPUS_COMPLEXITY: '0-10',
  EARSHOT_AUTH_FAILURES_PER_MIN: 'n',
  EARSHOT_MAX_LISTENERS_PER_CALL: 'n',
  EARSHOT_MAX_LISTENERS_PER_ORG: 'n',
  EARSHOT_MAX_PARTICIPANTS_PER_CALL: 'n',
  EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: 'n',
  EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: 'n',
  EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS: 'n',
  EARSHOT_METRICS_TOKEN: 'token',
  EARSHOT_METRICS_LISTEN: 'host:port',
  EARSHOT_AUDIOSOCKET_LISTEN: 'host:port',
  EARSHOT_AUDIOSOCKET_INGEST_KEY: 'key',
  EARSHOT_RTP_PORTS: 'first-last',
  EARSHOT_RTP_HOST: 'address',
  EARSHOT_RTP_IDLE_TIMEOUT_S: 'seconds',
} as const satisfies Record<ConfigVariable, string>;

/** Every configuration variable, in the order of CONFIG_VARIABLES. */
export const ALL_CONFIG_VARIABLES = Object.keys(CONFIG_VARIABLES) as ConfigVariable[];

/** `--listen-token-ttl-s` for EARSHOT_LISTEN_TOKEN_TTL_S. */
export function flagOf(variable: ConfigVariable): string {
  return `--${variable.slice('EARSHOT_'.length).toLowerCase().replaceAll('_', '-')}`;
}

/** The property commander gives the flag's value: `listenTokenTtlS` for `--listen-token-ttl-s`. */
function attributeOf(variable: ConfigVariable): string {
  return flagOf(variable)
    .slice(2)
    .replace(/-(.)/g, (_, c: string) => c.toUpperCase());
}

/** Adds the flags of `variables` (each overrides its variable) to `command`. */
export function addConfigFlags(
  command: Command,
  variables: readonly ConfigVariable[] = ALL_CONFIG_VARIABLES,
): Command {
  for (const variable of variables) {
    const fallback = CONFIG_VARIABLES[variable];
    const byDefault = fallback === undefined ? '' : ` (default: ${fallback})`;
    command.option(`${flagOf(variable)} <${FLAG_VALUES[variable]}>`, `overrides ${variable}${byDefault}`);
  }
  return command;
}

/** The overrides given as flags, keyed by variable, for loadConfig. */
export function overridesFrom(options: Readonly<Record<string, unknown>>): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  for (const variable of ALL_CONFIG_VARIABLES) {
    const value = options[attributeOf(variable)];
    if (typeof value === 'string') overrides[variable] = value;
  }
  return overrides;
}
