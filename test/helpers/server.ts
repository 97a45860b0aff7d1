import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { ConfigOverrides } from '../../src/config/variables.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Backend, TestDatabase } from './databases.js';
import { sqliteBackend } from './databases.js';
import { type HttpTarget, requestTo } from './server-process.js';

export interface TestServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly db: TestDatabase;
  /** Every log line the server wrote, as text. */
  readonly logs: string[];
  /** fetch() against the server with an optional API key. */
  request(path: string, init?: RequestInit & { apiKey?: string }): Promise<Response>;
  /** Creates an organization with a key directly in the store. */
  createOrg(options?: {
    liveListen?: boolean;
    name?: string;
  }): Promise<{ orgId: string; apiKey: string; prefix: string }>;
  close(): Promise<void>;
}

/** Starts a real earshot server on a free loopback port with a fresh database of the given backend. */
export async function startTestServer(backend: Backend, env: ConfigOverrides = {}): Promise<TestServer> {
  const db = await backend.create();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const config = loadConfig(
    {},
    {
      EARSHOT_PORT: '0',
      EARSHOT_DATABASE_URL: db.url,
      EARSHOT_LOG_LEVEL: 'info',
      // One process unless a test asks for workers (`auto` would depend on the machine's cores).
      EARSHOT_MEDIA_WORKERS: '0',
      ...env,
    },
  );
  const server = await startServer(config, { logger: createLogger(config.logLevel, sink) });
  return {
    server,
    url: server.url,
    db,
    logs,
    request: requestTo(server.url),
    async createOrg(options = {}) {
      const org = await server.deps.store.createOrg(options.name ?? 'Test org', options.liveListen ?? true);
      const key = await server.deps.store.createApiKey(org.id);
      return { orgId: org.id, apiKey: key.apiKey, prefix: key.prefix };
    },
    async close() {
      await server.close();
      await db.drop();
    },
  };
}

/** POSTs JSON and returns status, parsed body and raw text. */
export async function jsonRequest(
  ts: HttpTarget,
  method: string,
  path: string,
  options: { apiKey?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await ts.request(path, {
    method,
    apiKey: options.apiKey,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : undefined,
    text,
    headers: response.headers,
  };
}

/**
 * The two places a call's sockets can live, in the server process or in media worker processes
 * (`EARSHOT_MEDIA_WORKERS`), and the two ways messages reach a listener: through the native addon
 * (the default) or through each socket (`EARSHOT_DIRECT_WRITES=off`). Listener tests run in each
 * (`describe.each`).
 */
export const LISTENER_MODES: readonly [string, ConfigOverrides][] = [
  ['sockets in process', {}],
  ['sockets in 2 media workers', { EARSHOT_MEDIA_WORKERS: '2' }],
  ['sockets in process, written through each socket', { EARSHOT_DIRECT_WRITES: 'off' }],
];

/** Whether a server started with these overrides puts its sockets in media workers. */
export function inMediaWorkers(env: ConfigOverrides): boolean {
  return Number(env.EARSHOT_MEDIA_WORKERS ?? 0) > 0;
}

/**
 * A server on SQLite with a live-listen organization for the enclosing `describe` block (started
 * before its tests, closed after). Read the fields inside tests, once the block has started.
 */
export function useLiveServer(env: ConfigOverrides = {}): { ts: TestServer; apiKey: string } {
  const live = {} as { ts: TestServer; apiKey: string };
  beforeAll(async () => {
    live.ts = await startTestServer(sqliteBackend, env);
    live.apiKey = (await live.ts.createOrg({ liveListen: true })).apiKey;
  });
  afterAll(() => live.ts?.close());
  return live;
}
