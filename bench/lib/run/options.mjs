/** bench/run.mjs's command line → the settings of a run (see the usage below). */
import path from 'node:path';
import { commandLine } from '../cli.mjs';
import { ROOT } from '../paths.mjs';
import { FULL, QUICK } from './config.mjs';

const USAGE = `usage: node bench/run.mjs [options]        (npm run bench -- [options], earshot bench [options])

  (none)                   full run (several minutes), rewrites docs/benchmarks.md
  --quick                  smoke run (seconds, tiny counts), prints only
  --no-write               print only, leave docs/benchmarks.md alone
  --out=<file>             write the report there (also with --quick)
  --repeats=N              measurement repeats (default 5; --quick 1)
  --window=S               seconds per measured window (default 8; --quick 1)
  --calls=N                Scenario A's calls (default 200; --quick 4), 5 listeners each
  --ceiling=N,N,…|none     listener counts of the ceiling steps
  --profile                the server runs with --cpu-prof (summarize with bench/profile-summary.mjs)
  --server-dist=<dir>      the server from another build (e.g. \`tsc --outDir\`), to compare versions
  --json=<file>            every measurement, raw
  --media-workers=N       the server's EARSHOT_MEDIA_WORKERS (default 0)
  --direct-writes=auto|on|off   the server's EARSHOT_DIRECT_WRITES (default auto)
  --server-env=NAME=VALUE  more environment for the server under test (repeatable), e.g.
                           --server-env=EARSHOT_WRITE_COALESCING=off
  --ceiling-only           just the ceiling steps, as JSON on stdout (the media-worker pass)
  --no-workers-ceiling     skip the second ceiling pass (EARSHOT_MEDIA_WORKERS = cores − 1)
  --no-cluster             skip the cluster part (bench/cluster-bench.mjs)
  --no-storm               skip the connection storm (bench/storm.mjs)
  --no-capacity            skip the capacity steps (bench/capacity.mjs)
  --listener-procs=N       load-generator processes the storm's listeners come from (default 1;
                           more on machines with more cores)
  --help                   this text`;

const OPTIONS = {
  quick: { type: 'boolean' },
  'no-write': { type: 'boolean' },
  out: { type: 'string' },
  repeats: { type: 'string' },
  window: { type: 'string' },
  calls: { type: 'string' },
  ceiling: { type: 'string' },
  profile: { type: 'boolean' },
  'server-dist': { type: 'string' },
  json: { type: 'string' },
  'media-workers': { type: 'string' },
  'direct-writes': { type: 'string' },
  'server-env': { type: 'string', multiple: true },
  'ceiling-only': { type: 'boolean' },
  'no-workers-ceiling': { type: 'boolean' },
  'no-cluster': { type: 'boolean' },
  'no-storm': { type: 'boolean' },
  'no-capacity': { type: 'boolean' },
  'listener-procs': { type: 'string' },
};

/**
 * { cfg (the sizes, FULL or QUICK with --repeats/--window/--ceiling applied), and the rest:
 * quick, ceilingOnly, write, outFile, jsonFile, profile, serverDist, mediaWorkers, directWrites,
 * ceilingArg (--ceiling as given, for the media-worker pass), workersCeiling, cluster }.
 */
export function parseRunOptions(argv) {
  const cl = commandLine(argv, { script: 'bench/run.mjs', options: OPTIONS, usage: USAGE });
  const v = cl.values;
  const quick = v.quick ?? false;
  const ceilingOnly = v['ceiling-only'] ?? false;
  const cfg = { ...(quick ? QUICK : FULL) };
  // The media-worker pass measures only the ceiling.
  cfg.repeats = cl.number('repeats', ceilingOnly ? 0 : cfg.repeats);
  cfg.windowS = cl.number('window', cfg.windowS, { min: 0.1, integer: false });
  cfg.calls = cl.number('calls', cfg.calls, { min: cfg.probes });
  if (v.ceiling !== undefined) cfg.ceiling = ceilingSteps(v.ceiling, cl.fail);
  return {
    cfg,
    quick,
    ceilingOnly,
    write: (!quick || v.out !== undefined) && !v['no-write'] && !ceilingOnly,
    outFile: path.resolve(ROOT, v.out ?? 'docs/benchmarks.md'),
    jsonFile: v.json === undefined ? null : path.resolve(v.json),
    profile: v.profile ?? false,
    serverDist: v['server-dist'] === undefined ? null : path.resolve(v['server-dist']),
    mediaWorkers: cl.number('media-workers', 0),
    directWrites: cl.choice('direct-writes', ['auto', 'on', 'off'], 'auto'),
    serverEnv: serverEnv(v['server-env'] ?? [], cl.fail),
    ceilingArg: v.ceiling,
    workersCeiling: !v['no-workers-ceiling'],
    cluster: !v['no-cluster'],
    storm: !v['no-storm'] && !ceilingOnly,
    capacity: !v['no-capacity'] && !ceilingOnly,
    listenerProcs: cl.number('listener-procs', 1),
  };
}

/** `--server-env=A=1 --server-env=B=2` → { A: '1', B: '2' } (EARSHOT_* names only). */
function serverEnv(list, fail) {
  const env = {};
  for (const item of list) {
    const m = /^(EARSHOT_[A-Z0-9_]+)=(.*)$/.exec(item);
    if (!m) fail(`--server-env=${item}: expected EARSHOT_NAME=value`);
    env[m[1]] = m[2];
  }
  return env;
}

/** `--ceiling=500,1000` → [500, 1000]; `none` → no ceiling steps. */
function ceilingSteps(arg, fail) {
  if (arg === 'none') return [];
  const steps = arg.split(',').map(Number);
  if (steps.some((n) => !Number.isInteger(n) || n <= 0))
    fail(`--ceiling=${arg}: expected listener counts (positive integers, comma-separated) or none`);
  return steps;
}
