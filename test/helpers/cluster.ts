import { readFileSync } from 'node:fs';
import { openStore } from '../../src/store/open-store.js';
import { type Backend, backends, postgresBackend, type TestDatabase } from './databases.js';
import { natsAvailable, TEST_NATS_URL, uniquePrefix } from './nats.js';
import { type ClusterNode, startNode } from './server-process.js';

export { toneChunks } from './ws-clients.js';
export type { ClusterNode };

/** Whether the shared Postgres and NATS both answer (under CI=true their helpers throw instead). */
export const clusterAvailable = natsAvailable && backends.includes(postgresBackend);

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
