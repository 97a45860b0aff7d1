import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/store/open-store.js';

/** The Postgres server tests use; each test database is created on it and dropped afterwards. */
const TEST_POSTGRES_URL = process.env.EARSHOT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly config: DatabaseConfig;
  /** The value for EARSHOT_DATABASE_URL. */
  readonly url: string;
  drop(): Promise<void>;
}

export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
}

async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const postgresProblem = await postgresReachable();
if (postgresProblem !== null) {
  if (process.env.CI === 'true') {
    throw new Error(`Postgres at ${TEST_POSTGRES_URL} is unreachable under CI=true: ${postgresProblem}`);
  }
  console.warn(`[skip] Postgres tests skipped: ${TEST_POSTGRES_URL} unreachable (${postgresProblem})`);
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-test-'));
    const path = join(dir, 'earshot.db');
    return {
      config: { kind: 'sqlite', path },
      url: `sqlite:${path}`,
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  async create() {
    const name = `earshot_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    return {
      config: { kind: 'postgres', url: url.toString() },
      url: url.toString(),
      async drop() {
        const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      },
    };
  },
};

/** Every backend the contract suites run on: Postgres is left out (with a printed reason) only outside CI. */
export const backends: readonly Backend[] =
  postgresProblem === null ? [sqliteBackend, postgresBackend] : [sqliteBackend];
