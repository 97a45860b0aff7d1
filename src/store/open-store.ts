import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from './kysely-store.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** Where the store lives (EARSHOT_DATABASE_URL, parsed by config/). */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

export interface OpenStoreOptions {
  /** Called for errors raised outside any query (e.g. an idle Postgres connection dropping). */
  readonly onBackgroundError?: (err: Error) => void;
}

/**
 * Builds the Kysely instance for the configured dialect, runs the migrations, and returns the store.
 * SQLite: the file (and its folder) is created on first start, WAL mode; Postgres: a small pool.
 */
export async function openStore(config: DatabaseConfig, options: OpenStoreOptions = {}): Promise<Store> {
  const db = config.kind === 'sqlite' ? openSqlite(config.path) : openPostgres(config.url, options);
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
  return new KyselyStore(db, config.kind);
}

function openSqlite(path: string): Kysely<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new SQLite(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
}

function openPostgres(url: string, options: OpenStoreOptions): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // Without a listener, an idle client losing its connection would crash the process.
  pool.on('error', (err) => options.onBackgroundError?.(err));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(
      `database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`,
      {
        cause: error,
      },
    );
  }
}
