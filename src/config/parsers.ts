import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { LOG_LEVELS, type LogLevel } from '../observability/logger.js';
import type { DatabaseConfig } from '../store/open-store.js';
import { ConfigError, type ConfigVariable } from './variables.js';

/** How each variable's text becomes a value, or a ConfigError naming the variable. */

/** `host:port` (IPv6 in brackets), or null when unset. */
export function parseHostPort(
  name: ConfigVariable,
  value: string | undefined,
): { readonly host: string; readonly port: number } | null {
  if (value === undefined) return null;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s/:[\]]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) throw new ConfigError(name, `must be host:port, got "${value}"`);
  return Object.freeze({ host: match[1] ?? match[2], port });
}

export function parseOneOf<T extends string>(name: ConfigVariable, allowed: readonly T[], value: string): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined)
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${value}"`);
  return found;
}

export function parseHost(value: string): string {
  if (/\s|\//.test(value))
    throw new ConfigError('EARSHOT_HOST', `must be a host name or IP address, got "${value}"`);
  return value;
}

export function parseInteger(name: ConfigVariable, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseDatabaseUrl(value: string): DatabaseConfig {
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ConfigError('EARSHOT_DATABASE_URL', 'needs a file path after "sqlite:"');
    return Object.freeze({ kind: 'sqlite', path });
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new ConfigError('EARSHOT_DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return Object.freeze({ kind: 'postgres', url: value });
  }
  throw new ConfigError('EARSHOT_DATABASE_URL', 'must start with "sqlite:" or "postgres://"');
}

export function parseNatsUrl(value: string | undefined): string[] {
  if (value === undefined) return [];
  const servers = value.split(',').map((s) => s.trim());
  for (const server of servers) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new ConfigError('EARSHOT_NATS_URL', `has an invalid server URL "${server}"`);
    }
    if (!['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol)) {
      throw new ConfigError('EARSHOT_NATS_URL', `server "${server}" must use nats://`);
    }
  }
  return servers;
}

export function parseNatsPrefix(value: string): string {
  // Whole subject tokens only (no wildcards, empty tokens or whitespace); `_INBOX` is NATS's own.
  if (
    value.length > 64 ||
    !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(value) ||
    /^_INBOX(\.|$)/.test(value)
  ) {
    throw new ConfigError(
      'EARSHOT_NATS_PREFIX',
      `must be up to 64 characters of dot-separated [A-Za-z0-9_-] tokens, got "${value}"`,
    );
  }
  return value;
}

export function parsePublicUrl(value: string | undefined): string | null {
  if (value === undefined) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('EARSHOT_PUBLIC_URL', `must be an absolute http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('EARSHOT_PUBLIC_URL', 'must use http:// or https://');
  }
  if (url.search || url.hash)
    throw new ConfigError('EARSHOT_PUBLIC_URL', 'must not have a query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function parseLogLevel(value: string): LogLevel {
  return parseOneOf('EARSHOT_LOG_LEVEL', LOG_LEVELS, value);
}

export function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  // Each entry must be an IP address or CIDR block: anything else would make Fastify throw at start-up.
  if (value.split(',').every((entry) => isAddressOrCidr(entry.trim()))) return value;
  throw new ConfigError(
    'EARSHOT_TRUST_PROXY',
    'must be true, false, a hop count, or a comma list of addresses',
  );
}

function isAddressOrCidr(entry: string): boolean {
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * EARSHOT_RTP_PORTS: `first-last` (or one port), inclusive, 1024–65535. RTP goes on even ports and
 * its RTCP on the odd one above (RFC 3550 §11), so only the even ports of the range are handed out:
 * the range must hold at least one.
 */
export function parsePortRange(
  value: string | undefined,
): { readonly first: number; readonly last: number } | null {
  if (value === undefined) return null;
  const match = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(value);
  const first = match ? Number(match[1]) : Number.NaN;
  const last = match ? Number(match[2] ?? match[1]) : Number.NaN;
  if (!match || first < 1024 || last > 65535 || first > last)
    throw new ConfigError(
      'EARSHOT_RTP_PORTS',
      `must be a port range first-last within 1024-65535, got "${value}"`,
    );
  if (first === last && first % 2 === 1)
    throw new ConfigError(
      'EARSHOT_RTP_PORTS',
      `must hold an even port (RTP's; RTCP takes the odd one above), got "${value}"`,
    );
  return Object.freeze({ first, last });
}

/** EARSHOT_RTP_HOST: the address RTP sockets bind to, and that `POST …/rtp` answers. */
export function parseRtpHost(value: string): string {
  if (/\s|\/|^\[|\]$/.test(value))
    throw new ConfigError('EARSHOT_RTP_HOST', `must be a host name or IP address, got "${value}"`);
  return value;
}

/** EARSHOT_MEDIA_WORKERS: 0–64, or `auto` = one per core beyond the first (the control plane's). */
export function parseMediaWorkers(value: string, cores = availableParallelism()): number {
  if (value.trim().toLowerCase() === 'auto') return Math.min(64, Math.max(0, cores - 1));
  return parseInteger('EARSHOT_MEDIA_WORKERS', value, 0, 64);
}
