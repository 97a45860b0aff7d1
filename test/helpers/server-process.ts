import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Registers a child process to be killed if the test process exits first. */
export function killOnExit(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const BIN = fileURLToPath(new URL('../../bin/earshot.js', import.meta.url));

/** One `earshot serve` process. */
export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly ws: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every line it wrote to stdout/stderr. */
  readonly logs: string[];
  /** Resolves with the exit code (or signal) when it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  request(
    path: string,
    init?: RequestInit & { apiKey?: string; json?: unknown },
    // biome-ignore lint/suspicious/noExplicitAny: tests read response envelopes loosely
  ): Promise<{ status: number; body: any }>;
  /** Sends a signal and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node bin/earshot.js serve` on port 0 and waits for its `listening` line. */
export async function startNode(name: string, env: Record<string, string>): Promise<ClusterNode> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EARSHOT_')));
  const child = killOnExit(
    spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...base,
        EARSHOT_HOST: '127.0.0.1',
        EARSHOT_PORT: '0',
        EARSHOT_LOG_LEVEL: 'info',
        // One process unless a test asks for media workers (`auto` depends on the machine's cores).
        EARSHOT_MEDIA_WORKERS: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within 15 s:\n${logs.join('')}`)),
      15_000,
    );
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue;
        logs.push(`${line}\n`);
        const m = /listening on (http:\/\/[^\s"]+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    };
    child.stdout?.on('data', onLine);
    child.stderr?.on('data', onLine);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${logs.join('')}`));
    });
  });
  return {
    name,
    url,
    ws: url.replace(/^http/, 'ws'),
    pid: child.pid as number,
    child,
    logs,
    exited,
    async request(path, init = {}) {
      const { apiKey, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (apiKey !== undefined) headers.set('authorization', apiKey);
      if (json !== undefined) headers.set('content-type', 'application/json');
      const response = await fetch(url + path, {
        ...rest,
        headers,
        body: json === undefined ? rest.body : JSON.stringify(json),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The part of a test server that HTTP helpers (jsonRequest, createLiveCall, …) use. */
export interface HttpTarget {
  readonly url: string;
  request(path: string, init?: RequestInit & { apiKey?: string }): Promise<Response>;
}

/** fetch() against `baseUrl`, with an optional API key as the Authorization header. */
export function requestTo(baseUrl: string): HttpTarget['request'] {
  return (path, init = {}) => {
    const { apiKey, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (apiKey !== undefined) headers.set('authorization', apiKey);
    return fetch(baseUrl + path, { ...rest, headers });
  };
}

/**
 * A real `earshot serve` process on SQLite (a file of its own) with an organization that has live
 * listen on: for tests that attack the server, so that the attacker's work never runs on the
 * server's event loop, and a crash shows as an exit.
 */
export async function startServerProcess(
  env: Record<string, string> = {},
): Promise<
  HttpTarget & { node: ClusterNode; apiKey: string; createOrg(): Promise<string>; close(): Promise<void> }
> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-proc-'));
  const adminToken = randomBytes(24).toString('hex');
  const node = await startNode('server', {
    EARSHOT_DATABASE_URL: `sqlite:${join(dir, 'earshot.db')}`,
    EARSHOT_ADMIN_TOKEN: adminToken,
    ...env,
  });
  /** A new organization with live listen on; resolves with its API key. */
  const createOrg = async (): Promise<string> => {
    const created = await node.request('/admin/v1/orgs', {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
      json: { name: 'Test org', live_listen_enabled: true },
    });
    if (created.status !== 200) throw new Error(`could not create an org: ${JSON.stringify(created.body)}`);
    return created.body.data.api_key;
  };
  return {
    node,
    url: node.url,
    apiKey: await createOrg(),
    createOrg,
    request: requestTo(node.url),
    async close() {
      await node.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
