import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built module (`npm test` builds first): a child process of Node 20 cannot load TypeScript.
const guard = fileURLToPath(new URL('../../dist/observability/process-guard.js', import.meta.url));

/** Runs a script in a child process of its own, as `earshot serve` would run. */
function runChild(body: string) {
  const script = `import { installProcessGuard } from ${JSON.stringify(guard)};\n${body}`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 10_000,
  });
}

describe('installProcessGuard', () => {
  it('keeps the process serving past an error no handler took, and reports each (log bounded)', () => {
    const r = runChild(`
      let reported = 0, logged = 0;
      installProcessGuard((err, origin, logIt) => { reported++; if (logIt) logged++; });
      for (let i = 0; i < 30; i++) setTimeout(() => { throw new Error('boom ' + i); }, 1);
      setTimeout(() => Promise.reject(new Error('rejected')), 5);
      setTimeout(() => { console.log(JSON.stringify({ reported, logged })); }, 100);
    `);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ reported: 31, logged: 20 });
  });

  it('without it, the same error ends the process (what the guard is for)', () => {
    const r = runChild(
      `setTimeout(() => { throw new Error('boom'); }, 1); setTimeout(() => console.log('alive'), 100);`,
    );
    expect(r.status).toBe(1);
    expect(r.stdout).not.toContain('alive');
  });
});
