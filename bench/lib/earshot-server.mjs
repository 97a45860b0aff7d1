/**
 * The earshot server a benchmark runs against: `node bin/earshot.js serve` in its own process on
 * 127.0.0.1, limits lifted for one load generator's thousands of sockets, its logs read for skipped
 * mixer ticks and evicted listeners, stopped at teardown.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { BIN, ROOT } from './paths.mjs';
import { freePort } from './ports.mjs';
import { scrape } from './prom.mjs';
import { adopt, onTeardown, processHandle } from './teardown.mjs';

const execFileP = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The environment of a benchmarked server: this one without any EARSHOT_* (so a developer's own
 * settings do not leak in), then the bench settings, then `extra` (media workers, NATS, …).
 */
export function earshotEnv({ dbUrl, port, extra = {} }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EARSHOT_')));
  return {
    ...env,
    EARSHOT_HOST: '127.0.0.1',
    EARSHOT_PORT: String(port),
    EARSHOT_DATABASE_URL: dbUrl,
    EARSHOT_LOG_LEVEL: 'warn',
    EARSHOT_RATE_LIMIT_PER_MIN: '1000000',
    // The load generator is one client address with thousands of sockets on a few calls of one org.
    EARSHOT_MAX_LISTENERS_PER_CALL: '100000',
    EARSHOT_MAX_LISTENERS_PER_ORG: '100000',
    EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS: '100000',
    EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: '100000',
    EARSHOT_CALL_IDLE_TIMEOUT_S: '3600',
    ...extra,
  };
}

/** `earshot <args…> --json` against the database of `env`: what it printed, parsed. */
async function cliJson(env, args) {
  const { stdout } = await execFileP(process.execPath, [BIN, ...args, '--json'], { cwd: ROOT, env });
  return JSON.parse(stdout);
}

/** `earshot org create bench --live-listen` against the database of `env`; resolves with its API key. */
export async function createOrg(env) {
  return (await cliJson(env, ['org', 'create', 'bench', '--live-listen'])).api_key;
}

/**
 * createOrg's organization and an ingest key of it named `name`, without client secret, both made
 * offline: { apiKey, ingestKey } — for a server that is started with the key (AudioSocket's).
 */
export async function createOrgWithIngestKey(env, name) {
  const org = await cliJson(env, ['org', 'create', 'bench', '--live-listen']);
  const key = await cliJson(env, ['ingest-key', 'create', '--org', org.org_id, '--name', name]);
  return { apiKey: org.api_key, ingestKey: key.ingest_key };
}

/**
 * Starts a server with `env` (from earshotEnv) and resolves once its /metrics answers. `nodeArgs`
 * go to node (e.g. --cpu-prof); `serverDist` runs the server from another build (a `tsc --outDir`).
 * The result: { pid, port, base, logs: { skippedTicks, skips, evicted, other }, stop(), kill() }.
 */
/** A throwaway module that serves from `serverDist` (removed at teardown). */
function serverEntry(serverDist) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'earshot-server-dist-'));
  onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'serve.mjs');
  const main = pathToFileURL(path.join(path.resolve(serverDist), 'cli/main.js')).href;
  writeFileSync(file, `await (await import(${JSON.stringify(main)})).run(['serve']);\n`);
  return file;
}

export async function startEarshot({ env, nodeArgs = [], serverDist = null, readyTimeoutMs = 15_000 }) {
  // Another build's server runs from an entry file (not `node -e`: media workers are forked with
  // the parent's execArgv, and an `-e` there would run the entry again instead of the worker).
  const entry = serverDist ? [serverEntry(serverDist)] : [BIN, 'serve'];
  const proc = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** skips: [when (Date.now() as read), ticks] of each skipped-ticks report. */
  const logs = { skippedTicks: 0, skips: [], evicted: 0, other: [] };
  const onLine = lineReader((line) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = { msg: line };
    }
    if (typeof entry.ticks === 'number' && /skipped mixer ticks/.test(entry.msg)) {
      logs.skippedTicks += entry.ticks;
      logs.skips.push([Date.now(), entry.ticks]);
    } else if (typeof entry.evicted === 'number') logs.evicted += entry.evicted;
    else if (logs.other.length < 20) logs.other.push(entry.msg ?? line);
  });
  proc.stdout.setEncoding('utf8').on('data', onLine);
  proc.stderr.setEncoding('utf8').on('data', onLine);
  const port = Number(env.EARSHOT_PORT);
  const server = { ...adopt(processHandle(proc)), port, base: `http://127.0.0.1:${port}`, logs };
  await untilMetrics(server, 'earshot', readyTimeoutMs, () => logs.other.join(' | '));
  return server;
}

/**
 * Resolves once `server` (a processHandle with `base`) answers /metrics; rejects when it exits
 * first (with `exitDetail()`, e.g. its logs) or after `timeoutMs`.
 */
export async function untilMetrics(server, label, timeoutMs, exitDetail = () => '') {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (!server.alive()) throw new Error(`${label} exited at start: ${exitDetail()}`);
    try {
      await scrape(server.base);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${label} did not answer /metrics within ${timeoutMs / 1000} s`);
}

/** A 'data' handler (utf8 chunks) that calls `fn` with each non-empty line. */
function lineReader(fn) {
  let partial = '';
  return (chunk) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim()) fn(line);
    }
  };
}

/**
 * A fresh server on a throwaway SQLite database with `mediaWorkers` media workers (and `extra`
 * environment) and a live-listen organization: { server, port, apiKey }. The database goes at teardown.
 */
export async function freshServer({ name, mediaWorkers, extra = {} }) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `earshot-${name}-`));
  onTeardown(() => rmSync(tmp, { recursive: true, force: true }));
  const port = await freePort();
  const env = earshotEnv({
    dbUrl: `sqlite:${path.join(tmp, `${name}.db`)}`,
    port,
    extra: { EARSHOT_MEDIA_WORKERS: String(mediaWorkers), ...extra },
  });
  const apiKey = await createOrg(env);
  const server = await startEarshot({ env });
  return { server, port, apiKey };
}
