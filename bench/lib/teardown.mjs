/**
 * Nothing a bench script starts may outlive it. Each process or temporary directory registers how
 * to stop it; `teardown()` runs those steps once, last registered first, on success, failure, a
 * signal or the time limit; and if the process exits anyway, whatever is still running is killed.
 */

const steps = [];
const killers = new Set();
let running;

process.on('exit', () => {
  for (const kill of killers) kill();
});

/** Registers `stop` (may be async) for teardown, and `kill` (synchronous) for process exit. */
export function onTeardown(stop, kill) {
  steps.push(stop);
  if (kill) killers.add(kill);
}

/** Registers a handle with `stop()` and `kill()` (a child process, a forked generator); returns it. */
export function adopt(handle) {
  onTeardown(
    () => handle.stop(),
    () => handle.kill(),
  );
  return handle;
}

/** Runs every registered step once (later calls wait for the same run). */
export function teardown() {
  running ??= (async () => {
    for (const step of [...steps].reverse()) {
      try {
        await step();
      } catch (err) {
        console.error('bench teardown:', err.message);
      }
    }
  })();
  return running;
}

/** On SIGINT / SIGTERM: tear down, then exit 130. */
export function stopOnSignals(label) {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      console.error(`${label}: ${sig}, stopping`);
      teardown().finally(() => process.exit(130));
    });
  }
}

/** After `seconds`: tear down, then exit 1. Returns a function that cancels the limit. */
export function timeLimit(seconds, label) {
  const timer = setTimeout(() => {
    console.error(`${label}: time limit of ${seconds} s reached, stopping`);
    teardown().finally(() => process.exit(1));
  }, seconds * 1000);
  return () => clearTimeout(timer);
}

/**
 * A spawned ChildProcess as a handle: `stop()` sends SIGTERM and SIGKILL after `graceMs` (0: SIGKILL
 * at once), resolving once it exited; `kill()` is the synchronous SIGKILL for process exit.
 */
export function processHandle(proc, graceMs = 15_000) {
  // A process that could not be spawned emits 'error' and never 'exit'.
  const exited = new Promise((resolve) => {
    proc.once('exit', resolve);
    proc.once('error', resolve);
  });
  const alive = () => proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null;
  return {
    pid: proc.pid,
    exited,
    alive,
    async stop() {
      if (!alive()) return;
      proc.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      if (alive()) proc.kill('SIGKILL');
    },
  };
}

/**
 * A bench/ script's main: runs `fn` within `limitS` seconds, stopped by signals, prints what it
 * resolves with as one JSON line (the parent reads the last line), tears everything down and
 * exits 0 — or 1 with the error on stderr.
 */
export async function runPrintingJson(label, limitS, fn) {
  stopOnSignals(label);
  const cancel = timeLimit(limitS, label);
  let code = 0;
  try {
    process.stdout.write(`${JSON.stringify(await fn())}\n`);
  } catch (err) {
    console.error(`${label} failed:`, err?.stack ?? err);
    code = 1;
  } finally {
    await teardown();
    cancel();
  }
  process.exit(code);
}
