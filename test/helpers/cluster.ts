import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/open-store.js';
import { type Backend, backends, postgresBackend, type TestDatabase } from './databases.js';
import { killOnExit, natsAvailable, TEST_NATS_URL, uniquePrefix } from './nats.js';

export { toneChunks } from './ws-clients.js';

const BIN = fileURLToPath(new URL('../../bin/earshot.js', import.meta.url));

/** Whether the shared Postgres and NATS both answer (under CI=true their helpers throw instead). */
export const clusterAvailable = natsAvailable && backends.includes(postgresBackend);

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
      env: { ...base, EARSHOT_HOST: '127.0.0.1', EARSHOT_PORT: '0', EARSHOT_LOG_LEVEL: 'info', ...env },
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

export interface Cluster {
  readonly nodes: ClusterNode[];
  readonly db: TestDatabase;
  readonly prefix: string;
  readonly natsUrl: string;
  readonly apiKey: string;
  /** Environment the nodes were started with (to start one more). */
  readonly env: Record<string, string>;
  /** Creates a call through `node` and returns its id, ingest URL builder and listen URL minting. */
  newCall(node?: ClusterNode): Promise<TestCall>;
  close(): Promise<void>;
}

export interface TestCall {
  readonly id: string;
  readonly ingestToken: string;
  /** The generic ingest URL of the call on `node`. */
  ingestUrl(node: ClusterNode, query: string): string;
  /** Mints a listen URL through `node` (its host is `node`'s). */
  listenUrl(node: ClusterNode): Promise<string>;
}

/**
 * `size` earshot processes sharing one fresh database (Postgres unless given) and one NATS subject
 * prefix of their own. `close()` kills every process and drops the database, also after a failure.
 */
export async function startCluster(
  size: number,
  options: {
    natsUrl?: string;
    backend?: Backend;
    database?: TestDatabase;
    env?: Record<string, string>;
  } = {},
): Promise<Cluster> {
  const db = options.database ?? (await (options.backend ?? postgresBackend).create());
  const prefix = uniquePrefix();
  const natsUrl = options.natsUrl ?? TEST_NATS_URL;
  const env = {
    EARSHOT_DATABASE_URL: db.url,
    EARSHOT_NATS_URL: natsUrl,
    EARSHOT_NATS_PREFIX: prefix,
    ...options.env,
  };
  const nodes: ClusterNode[] = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    if (!options.database) await db.drop().catch(() => {});
  };
  try {
    // The first node runs the migrations; the others start once the schema exists.
    nodes.push(await startNode('node1', env));
    nodes.push(
      ...(await Promise.all(Array.from({ length: size - 1 }, (_, i) => startNode(`node${i + 2}`, env)))),
    );
    const store = await openStore(db.config);
    const org = await store.createOrg('Cluster org', true);
    const { apiKey } = await store.createApiKey(org.id);
    await store.close();
    return {
      nodes,
      db,
      prefix,
      natsUrl,
      apiKey,
      env,
      async newCall(node = nodes[0]) {
        const created = await node.request('/v1/calls', { method: 'POST', apiKey, json: {} });
        if (created.status !== 200)
          throw new Error(`create call: ${created.status} ${JSON.stringify(created.body)}`);
        const { call_id: id, ingest } = created.body.data;
        return {
          id,
          ingestToken: ingest.token,
          ingestUrl: (n, query) =>
            `${n.ws}/ws/ingest/${encodeURIComponent(id)}?token=${ingest.token}&${query}`,
          async listenUrl(n) {
            const r = await n.request(`/v1/calls/${encodeURIComponent(id)}/listen`, {
              method: 'POST',
              apiKey,
            });
            if (r.status !== 200) throw new Error(`listen: ${r.status} ${JSON.stringify(r.body)}`);
            return r.body.data.url as string;
          },
        };
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Resident set size of a process (bytes), from /proc. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Figures the cluster and fault tests measured, printed with console.log and collected for docs. */
export function report(figure: string, value: string | number, unit = ''): void {
  console.log(`[cluster figure] ${figure}: ${value}${unit ? ` ${unit}` : ''}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
