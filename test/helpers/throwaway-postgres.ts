import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestDatabase } from './databases.js';
import { freePort } from './nats.js';

/**
 * A Postgres cluster of its own (data dir in a temp folder, loopback port), for tests that stop and
 * restart the database without touching the machine's. As root it runs as the `postgres` user
 * (Postgres refuses to run as root).
 */
export interface ThrowawayPostgres {
  readonly database: TestDatabase;
  readonly port: number;
  /** Starts it and waits until it accepts connections (asynchronously: the test's sockets keep running). */
  start(): Promise<void>;
  /** Fast shutdown (open connections are terminated); resolves when it is down. */
  stop(): Promise<void>;
  /** Stops it (if running) and deletes its data dir. Idempotent; synchronous so it also runs at exit. */
  destroy(): void;
}

function binDir(): string | null {
  if (process.env.EARSHOT_TEST_PG_BIN) return process.env.EARSHOT_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return null;
}

const BIN = binDir();
/** Why throwaway Postgres clusters cannot be made here (null: they can). */
export const throwawayPostgresProblem: string | null =
  BIN === null ? 'no Postgres server binaries (initdb) found' : null;

const asRoot = process.getuid?.() === 0;
const live = new Set<ThrowawayPostgres>();
process.once('exit', () => {
  for (const pg of live) pg.destroy();
});

function command(tool: string, args: string[]): [string, string[]] {
  const bin = join(BIN as string, tool);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function runSync(tool: string, args: string[]): void {
  const [cmd, argv] = command(tool, args);
  execFileSync(cmd, argv, { stdio: 'pipe', timeout: 60_000 });
}

const execFileAsync = promisify(execFile);

async function run(tool: string, args: string[]): Promise<void> {
  const [cmd, argv] = command(tool, args);
  await execFileAsync(cmd, argv, { timeout: 60_000 });
}

export async function throwawayPostgres(): Promise<ThrowawayPostgres> {
  if (throwawayPostgresProblem) throw new Error(throwawayPostgresProblem);
  const dir = mkdtempSync(join(tmpdir(), 'earshot-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  let running = false;
  const pg: ThrowawayPostgres = {
    port,
    database: {
      config: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/postgres` },
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      async drop() {},
    },
    async start() {
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
      running = true;
      await run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
    },
    async stop() {
      if (!running) return;
      running = false;
      await run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    },
    destroy() {
      try {
        if (running) runSync('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
        running = false;
      } catch {
        // Already gone: remove its files anyway.
      }
      rmSync(dir, { recursive: true, force: true });
      live.delete(pg);
    },
  };
  live.add(pg);
  try {
    await run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await pg.start();
  } catch (err) {
    pg.destroy();
    throw err;
  }
  return pg;
}
