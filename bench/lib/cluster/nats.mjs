/** A throwaway nats-server on a free port of 127.0.0.1, stopped at teardown. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../ports.mjs';
import { adopt, processHandle } from '../teardown.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The nats-server binary: EARSHOT_BENCH_NATS_SERVER, a usual place, or PATH. */
const natsBinary = () =>
  process.env.EARSHOT_BENCH_NATS_SERVER ??
  ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(existsSync) ??
  'nats-server';

/** Resolves whether something on 127.0.0.1:port accepts a connection and speaks first (NATS sends INFO). */
const greets = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('data', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** Starts nats-server; resolves with { url, pid } once it greets. */
export async function startNats() {
  const bin = natsBinary();
  const port = await freePort();
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  let spawnError = null;
  proc.once('error', (err) => {
    spawnError = err;
  });
  const nats = adopt(processHandle(proc, 5000));
  for (let i = 0; i < 200; i++) {
    if (spawnError) throw new Error(`${bin}: ${spawnError.message} (set EARSHOT_BENCH_NATS_SERVER)`);
    if (proc.exitCode !== null) throw new Error('nats-server exited at start');
    if (await greets(port)) return { url: `nats://127.0.0.1:${port}`, pid: nats.pid };
    await sleep(25);
  }
  throw new Error('nats-server did not start');
}
