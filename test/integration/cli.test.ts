import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { openStore } from '../../src/store/open-store.js';
import { backends } from '../helpers/databases.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/earshot.js');

interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The parent's environment without any EARSHOT_* variable, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EARSHOT_')));
  return { ...clean, ...env };
}

/** Runs a command asynchronously (never *Sync: a server in this process must keep answering). */
function run(command: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000) {
  return new Promise<Result>((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

const earshot = (args: readonly string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BIN, ...args], env);

/** A temporary SQLite database URL; removed after the file's tests. */
const tempDirs: string[] = [];
function tempSqliteUrl(): string {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-cli-'));
  tempDirs.push(dir);
  return `sqlite:${join(dir, 'earshot.db')}`;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** The organization id a key belongs to in the database at `url`, read with the store directly. */
async function orgOfKey(url: string, apiKey: string): Promise<string | undefined> {
  const store = await openStore(loadConfig({}, { EARSHOT_DATABASE_URL: url }).database);
  try {
    return (await store.findApiKey(apiKey))?.org.id;
  } finally {
    await store.close();
  }
}

describe('earshot --help', () => {
  it('prints usage and exits 0 for the top level and for serve, org create, key create and key revoke', async () => {
    const cases: [string[], RegExp][] = [
      [['--help'], /Usage: earshot \[options\] \[command\][\s\S]*serve[\s\S]*org[\s\S]*key/],
      [
        ['serve', '--help'],
        /Usage: earshot serve \[options\][\s\S]*--port <port>[\s\S]*--database-url <url>[\s\S]*--listen-token-ttl-s <seconds>[\s\S]*--call-idle-timeout-s <seconds>[\s\S]*--log-format/,
      ],
      [
        ['org', 'create', '--help'],
        /Usage: earshot org create \[options\] <name>[\s\S]*--live-listen[\s\S]*--json/,
      ],
      [['key', 'create', '--help'], /Usage: earshot key create \[options\][\s\S]*--org <id>/],
      [['key', 'revoke', '--help'], /Usage: earshot key revoke \[options\] <prefix>/],
      [
        ['ingest-key', 'create', '--help'],
        /Usage: earshot ingest-key create \[options\][\s\S]*--client-secret/,
      ],
      [['ingest-key', 'revoke', '--help'], /Usage: earshot ingest-key revoke \[options\] <prefix>/],
    ];
    const results = await Promise.all(cases.map(([args]) => earshot(args)));
    results.forEach((r, i) => {
      const [args, usage] = cases[i];
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(usage);
    });
  });

  it('works as `npx earshot --help` from the project root (the package bin)', async () => {
    // npx's first run on a machine reads the whole installed tree into its cache: ~14 s on a quiet
    // 2-vCPU machine, over 20 s beside the rest of the suite (and a run killed midway leaves a
    // cache entry that breaks the next ones), so it gets a minute and a half.
    const r = await run('npx', ['--no-install', 'earshot', '--help'], {}, 90_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: earshot /m);
  }, 100_000);
});

describe('earshot org and key', () => {
  it('org create --live-listen --json prints org_id, api_key and key_prefix, and the key belongs to the org', async () => {
    const url = tempSqliteUrl();
    const r = await earshot(['org', 'create', 'Acme', '--live-listen', '--json'], {
      EARSHOT_DATABASE_URL: url,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ name: 'Acme', live_listen_enabled: true });
    expect(out.org_id).toEqual(expect.any(String));
    expect(out.api_key).toMatch(/^esk_[A-Za-z0-9_-]{43}$/);
    expect(out.key_prefix).toBe(out.api_key.slice(0, 12));
    expect(await orgOfKey(url, out.api_key)).toBe(out.org_id);
  });

  it('--database-url wins over EARSHOT_DATABASE_URL, and the text output shows the key', async () => {
    const fromEnv = tempSqliteUrl();
    const fromFlag = tempSqliteUrl();
    const r = await earshot(['org', 'create', 'Flagged', '--database-url', fromFlag], {
      EARSHOT_DATABASE_URL: fromEnv,
    });
    expect(r.code, r.stderr).toBe(0);
    const key = r.stdout.match(/API key:\s+(esk_[A-Za-z0-9_-]{43})/)?.[1];
    expect(key, r.stdout).toBeDefined();
    expect(r.stdout).toMatch(/Live listen:\s+disabled/);
    expect(await orgOfKey(fromFlag, key!)).toEqual(expect.any(String));
    expect(await orgOfKey(fromEnv, key!)).toBeUndefined();
  });

  it('key create --org prints a new working key; revoking it works once, then exits 1', async () => {
    const url = tempSqliteUrl();
    const env = { EARSHOT_DATABASE_URL: url };
    const org = JSON.parse((await earshot(['org', 'create', 'Keys Inc', '--json'], env)).stdout);

    const [json, text] = await Promise.all([
      earshot(['key', 'create', '--org', org.org_id, '--json'], env),
      earshot(['key', 'create', '--org', org.org_id], env),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const second = JSON.parse(json.stdout);
    expect(second.org_id).toBe(org.org_id);
    expect(second.api_key).not.toBe(org.api_key);
    expect(await orgOfKey(url, second.api_key)).toBe(org.org_id);

    expect(text.code, text.stderr).toBe(0);
    const third = text.stdout.match(/API key: (esk_[A-Za-z0-9_-]{43})/)?.[1];
    expect(third, text.stdout).toBeDefined();
    expect(await orgOfKey(url, third!)).toBe(org.org_id);

    // Listen URLs minted by the key (as POST …/listen records them) are revoked with it; others stay.
    const mint = async (prefix: string) => {
      const store = await openStore(loadConfig({}, { EARSHOT_DATABASE_URL: url }).database);
      try {
        const { call } = await store.createCall(org.org_id, { callId: 'CA-cli' });
        return await store.createListenToken(call.pk, new Date(Date.now() + 60_000).toISOString(), prefix);
      } finally {
        await store.close();
      }
    };
    const tokens = [await mint(second.key_prefix), await mint(org.key_prefix)];

    const revoke = await earshot(['key', 'revoke', second.key_prefix], env);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain(second.key_prefix);
    expect(revoke.stdout).toContain('listen URLs it minted');
    expect(await orgOfKey(url, second.api_key)).toBeUndefined();
    expect(await orgOfKey(url, org.api_key)).toBe(org.org_id);
    const store = await openStore(loadConfig({}, { EARSHOT_DATABASE_URL: url }).database);
    try {
      const revoked = await Promise.all(
        tokens.map(async (t) => (await store.resolveListenToken(t))?.revoked),
      );
      expect(revoked).toEqual([true, false]);
    } finally {
      await store.close();
    }

    const again = await earshot(['key', 'revoke', second.key_prefix], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^earshot: no live API key/);
  });

  it('ingest-key create prints a key that only ingest accepts (with --name and --client-secret); revoke works once', async () => {
    const url = tempSqliteUrl();
    const env = { EARSHOT_DATABASE_URL: url };
    const org = JSON.parse((await earshot(['org', 'create', 'Ingest Inc', '--json'], env)).stdout);
    const [json, text] = await Promise.all([
      earshot(
        [
          'ingest-key',
          'create',
          '--org',
          org.org_id,
          '--name',
          'Genesys',
          '--client-secret',
          'c2VjcmV0LWZvci1hdWRpb2hvb2s=',
          '--json',
        ],
        env,
      ),
      earshot(['ingest-key', 'create', '--org', org.org_id], env),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const created = JSON.parse(json.stdout);
    expect(created).toMatchObject({
      org_id: org.org_id,
      name: 'Genesys',
      prefix: created.ingest_key.slice(0, 12),
    });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Ingest key: eik_[A-Za-z0-9_-]{43}/);
    const store = await openStore(loadConfig({}, { EARSHOT_DATABASE_URL: url }).database);
    try {
      expect(await store.findIngestKey(created.ingest_key)).toMatchObject({
        prefix: created.prefix,
        clientSecret: 'c2VjcmV0LWZvci1hdWRpb2hvb2s=',
      });
      expect(await store.findApiKey(created.ingest_key)).toBeUndefined();
    } finally {
      await store.close();
    }
    const bad = await earshot(['ingest-key', 'create', '--org', org.org_id, '--client-secret', 'no!'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^earshot: --client-secret must be base64/);
    const revoke = await earshot(['ingest-key', 'revoke', created.prefix], env);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain(`Revoked ingest key ${created.prefix}`);
    const again = await earshot(['ingest-key', 'revoke', created.prefix], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^earshot: no live ingest key/);
  });

  it('key create for an unknown organization exits 1 with "earshot: no organization…" on stderr', async () => {
    const r = await earshot(['key', 'create', '--org', 'no-such-org'], {
      EARSHOT_DATABASE_URL: tempSqliteUrl(),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^earshot: no organization/);
    expect(r.stdout).toBe('');
  });

  it('missing arguments exit non-zero with a usage hint', async () => {
    const env = { EARSHOT_DATABASE_URL: tempSqliteUrl() };
    const results = await Promise.all([
      earshot(['org', 'create'], env),
      earshot(['key', 'create'], env),
      earshot(['key', 'revoke'], env),
      earshot(['nonsense'], env),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toMatch(/error: /);
      expect(r.stderr).toMatch(/--help/);
    }
    expect(results[0].stderr).toMatch(/name/);
    expect(results[1].stderr).toMatch(/--org/);
    expect(results[2].stderr).toMatch(/prefix/);
  });

  it('an invalid configuration value exits 2 naming the variable, given as a variable or as its flag', async () => {
    const [port, db, ttl, idle, format] = await Promise.all([
      earshot(['serve'], { EARSHOT_PORT: 'abc', EARSHOT_DATABASE_URL: tempSqliteUrl() }),
      earshot(['org', 'create', 'X'], { EARSHOT_DATABASE_URL: 'mysql://localhost/x' }),
      earshot(['serve', '--listen-token-ttl-s', '0', '--database-url', tempSqliteUrl()]),
      earshot(['serve', '--call-idle-timeout-s', 'soon', '--database-url', tempSqliteUrl()]),
      earshot(['serve', '--log-format', 'xml', '--database-url', tempSqliteUrl()]),
    ]);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/^earshot: EARSHOT_PORT /);
    expect(db.code).toBe(2);
    expect(db.stderr).toMatch(/^earshot: EARSHOT_DATABASE_URL /);
    expect([ttl.code, idle.code, format.code]).toEqual([2, 2, 2]);
    expect(ttl.stderr).toMatch(/^earshot: EARSHOT_LISTEN_TOKEN_TTL_S /);
    expect(idle.stderr).toMatch(/^earshot: EARSHOT_CALL_IDLE_TIMEOUT_S /);
    expect(format.stderr).toMatch(/^earshot: EARSHOT_LOG_FORMAT /);
  });

  it('listen and simulate take the server from EARSHOT_URL when --url is not given', async () => {
    const env = { EARSHOT_API_KEY: 'esk_x', EARSHOT_URL: 'http://127.0.0.1:1' };
    const [listen, simulate, flag] = await Promise.all([
      earshot(['listen', 'c'], env),
      earshot(['simulate', 'c', '--file', join(ROOT, 'assets/demo/caller-1.wav')], env),
      earshot(['listen', 'c', '--url', 'http://127.0.0.2:1'], env),
    ]);
    expect(listen.code).toBe(1);
    expect(listen.stderr).toMatch(/^earshot: cannot reach earshot at http:\/\/127\.0\.0\.1:1/);
    expect(simulate.code).toBe(1);
    expect(simulate.stderr).toMatch(/^earshot: cannot connect: .*127\.0\.0\.1:1\b/);
    expect(flag.stderr).toMatch(/^earshot: cannot reach earshot at http:\/\/127\.0\.0\.2:1/);
  });
});

/** A running `earshot serve` child and the URL it logged. */
async function startServe(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: ROOT,
    env: childEnv({ EARSHOT_PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.setEncoding('utf8').on('data', (d) => (out += d));
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not log "listening" within 15 s:\n${out}`)),
      15_000,
    );
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (const line of out.split('\n')) {
        const match = line.includes('listening') ? line.match(/http:\/\/127\.0\.0\.1:(\d+)/) : null;
        if (match && Number(match[1]) > 0) {
          clearTimeout(timer);
          resolvePromise(`http://127.0.0.1:${match[1]}`);
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${out}`));
    });
  });
  return { child, url, output: () => out };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

describe.each(backends)('earshot serve on $name', (backend) => {
  let dbUrl: string;
  let drop: () => Promise<void>;
  let serving: { child: ChildProcess; url: string; output: () => string } | undefined;

  beforeAll(async () => {
    const db = await backend.create();
    dbUrl = db.url;
    drop = () => db.drop();
  });
  afterAll(async () => {
    if (serving && serving.child.exitCode === null && serving.child.signalCode === null) {
      serving.child.kill('SIGKILL');
      await exitOf(serving.child);
    }
    await drop?.();
  });

  it('logs "listening" with its URL, serves /healthz and a key made by `org create`, and exits 0 on SIGTERM within 10 s', async () => {
    const created = await earshot([
      'org',
      'create',
      'Served',
      '--live-listen',
      '--json',
      '--database-url',
      dbUrl,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const org = JSON.parse(created.stdout);

    serving = await startServe({ EARSHOT_DATABASE_URL: dbUrl });
    const health = await fetch(`${serving.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'success', data: { status: 'ok' }, errors: null });
    const prefs = await fetch(`${serving.url}/v1/org/preferences`, {
      headers: { authorization: org.api_key },
    });
    expect(prefs.status).toBe(200);
    expect(
      ((await prefs.json()) as { data: { live_listen_enabled: boolean } }).data.live_listen_enabled,
    ).toBe(true);
    const call = await fetch(`${serving.url}/v1/calls`, {
      method: 'POST',
      headers: { authorization: org.api_key },
    });
    expect(call.status).toBe(200);

    const stoppedAt = Date.now();
    const exited = exitOf(serving.child);
    serving.child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(serving.output()).toMatch(/shutting down/);
    // Nothing listens any more.
    await expect(fetch(`${serving.url}/healthz`)).rejects.toThrow();
  });
});
