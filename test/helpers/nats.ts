import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { killOnExit } from './server-process.js';

/** The NATS server tests share; each test isolates itself with its own subject prefix. */
export const TEST_NATS_URL = process.env.EARSHOT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** The nats-server binary fault tests start their own throwaway servers with. */
const NATS_SERVER_BIN =
  process.env.EARSHOT_TEST_NATS_SERVER ??
  ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(existsSync) ??
  'nats-server';

function tcpReachable(url: string, timeoutMs = 2000): Promise<string | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (problem: string | null) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done('timed out'));
    // A NATS server speaks first: wait for its INFO line.
    socket.once('data', (d) => done(d.toString().startsWith('INFO') ? null : 'not a NATS server'));
    socket.once('error', (err) => done(err.message));
    socket.connect(Number(port || 4222), hostname);
  });
}

const natsProblem = await tcpReachable(TEST_NATS_URL);
if (natsProblem !== null) {
  if (process.env.CI === 'true') {
    throw new Error(`NATS at ${TEST_NATS_URL} is unreachable under CI=true: ${natsProblem}`);
  }
  console.warn(`[skip] NATS tests skipped: ${TEST_NATS_URL} unreachable (${natsProblem})`);
}

/** Whether the shared NATS server answers (outside CI, NATS suites skip when it does not). */
export const natsAvailable = natsProblem === null;

/** A subject prefix no other test uses. */
export function uniquePrefix(): string {
  return `earshot-test.t${randomBytes(5).toString('hex')}`;
}

/** A TCP port free on loopback now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Children still running when the test process exits are killed with it (a failed test leaks nothing). */
/** A throwaway nats-server on a loopback port, for tests that stop and restart it. */
export interface ThrowawayNats {
  readonly url: string;
  readonly port: number;
  /** Starts it (again) on the same port; resolves once it accepts clients. */
  start(): Promise<void>;
  /** Kills it (SIGKILL) and waits for the exit. Idempotent. */
  stop(): Promise<void>;
}

export async function throwawayNats(): Promise<ThrowawayNats> {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  const start = async () => {
    if (child) return;
    const c = killOnExit(
      spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }),
    );
    child = c;
    const failed = new Promise<never>((_, reject) => {
      c.once('error', reject);
      c.once('exit', (code) => reject(new Error(`nats-server exited with ${code}`)));
    });
    failed.catch(() => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const problem = await Promise.race([tcpReachable(url, 500), failed]);
      if (problem === null) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`nats-server on port ${port} did not start: ${problem}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await start();
  return { url, port, start, stop };
}
