/**
 * The parts of a bench/run.mjs run that run as their own processes once the single-node part has
 * torn down, so that they never share the CPU with it: the ceiling with media workers (a second
 * `run.mjs --ceiling-only`), the connection storm (bench/storm.mjs) and the cluster benchmark
 * (bench/cluster-bench.mjs).
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { benchFile, ROOT } from '../paths.mjs';
import { log } from './log.mjs';

const execFileP = promisify(execFile);

/** The last line of a failed child's stderr, or its error message. */
const whyFailed = (err) => `${err.stderr ?? ''}`.trim().split('\n').at(-1) || err.message;

/**
 * The ceiling again, against a server with media workers (cores − 1, at least 1): { workers,
 * steps } or { workers, error }; null when skipped (--no-workers-ceiling, or no ceiling steps).
 */
export async function workersCeiling(opts) {
  const workers = Math.max(1, os.availableParallelism() - 1);
  if (!opts.workersCeiling || opts.cfg.ceiling.length === 0) return null;
  log(`ceiling with ${workers} media worker(s): bench/run.mjs --ceiling-only …`);
  const args = [benchFile('run.mjs'), '--ceiling-only', `--media-workers=${workers}`];
  if (opts.quick) args.push('--quick');
  if (opts.ceilingArg !== undefined) args.push(`--ceiling=${opts.ceilingArg}`);
  args.push(`--direct-writes=${opts.directWrites}`);
  try {
    const { stdout } = await execFileP(process.execPath, args, {
      cwd: ROOT,
      timeout: (opts.quick ? 60 : 300) * 1000,
      maxBuffer: 16 << 20,
    });
    return { workers, steps: JSON.parse(stdout.trim().split('\n').at(-1)) };
  } catch (err) {
    return { workers, error: `ceiling with media workers failed: ${whyFailed(err)}` };
  }
}

/** Runs a bench/ script and reads the JSON line it prints last: { result } or { error }. */
async function jsonChild(label, script, args, timeoutS) {
  log(`${label}: bench/${script} ${args.join(' ')} …`);
  try {
    const { stdout } = await execFileP(process.execPath, [benchFile(script), ...args], {
      cwd: ROOT,
      timeout: timeoutS * 1000,
      maxBuffer: 16 << 20,
    });
    return { result: JSON.parse(stdout.trim().split('\n').at(-1)) };
  } catch (err) {
    return { error: `${label} failed: ${whyFailed(err)}` };
  }
}

/**
 * A connection storm (bench/storm.mjs) against a fresh server with its default media workers:
 * { result } or { error }; { skipped } with --no-storm.
 */
export function stormPart(opts) {
  if (!opts.storm) return { skipped: 'skipped (--no-storm)' };
  const args = [`--listener-procs=${opts.listenerProcs}`, ...(opts.quick ? ['--quick'] : [])];
  return jsonChild('storm', 'storm.mjs', args, opts.quick ? 60 : 240);
}

/**
 * Capacity in calls with W media workers, W = 0 … cores − 1 (bench/capacity.mjs): { result } or
 * { error }; { skipped } with --no-capacity.
 */
export function capacityPart(opts) {
  if (!opts.capacity) return { skipped: 'skipped (--no-capacity)' };
  return jsonChild('capacity', 'capacity.mjs', opts.quick ? ['--quick'] : [], opts.quick ? 90 : 480);
}

/**
 * What a NATS hop adds (one node's ingest → another node's listeners): { markdown } (goes into the
 * report as it is), { error }, or { skipped } with --no-cluster.
 */
export async function clusterPart(opts) {
  if (!opts.cluster) return { skipped: 'skipped (--no-cluster)' };
  log('cluster part: bench/cluster-bench.mjs …');
  try {
    const { stdout } = await execFileP(
      process.execPath,
      [benchFile('cluster-bench.mjs'), ...(opts.quick ? ['--quick'] : [])],
      { cwd: ROOT, timeout: (opts.quick ? 60 : 240) * 1000, maxBuffer: 1 << 20 },
    );
    return { markdown: stdout.trim() };
  } catch (err) {
    return { error: `cluster benchmark failed: ${whyFailed(err)}` };
  }
}
