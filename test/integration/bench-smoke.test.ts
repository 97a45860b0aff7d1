import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// The benchmark's figures are never asserted here (timing on a shared machine is not a test);
// this only keeps `npm run bench -- --quick` (against dist/) and `npm run bench:write-paths` working.
describe('the benchmarks run (figures not asserted)', () => {
  it('runs the whole benchmark, cluster, ingest-family, listener-format and isolation parts included, with tiny counts and prints the results', async () => {
    // Through the CLI (SPEC §5: `earshot bench …`), which runs bench/run.mjs with the options given.
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/earshot.js', 'bench', '--quick'], {
      cwd: root,
      timeout: 240_000,
    });
    expect(stdout).toContain('Figure');
    expect(stdout).toContain('Added latency p50');
    expect(stdout).toContain('earshot / floor');
    expect(stdout).toContain('Ceiling stopped at');
    // The cluster part: two nodes and a throwaway nats-server.
    expect(stdout).toContain('NATS hop');
    expect(stdout).toContain('via NATS (ingest on A)');
    // The ingest cost per family (bench/ingest-families.mjs), last.
    expect(stdout).toContain('Ingest cost, Twilio (base64 JSON)');
    expect(stdout).toContain('Calls per core, Genesys AudioHook');
    expect(stdout).toContain('Calls per core, generic binary PCM, stereo');
    // The floors under the generic path: what reading its sockets costs before earshot does anything.
    expect(stdout).toContain('Calls per core, floor: the `ws` library, empty message handler');
    // PCM16 against Opus for listeners (bench/listener-formats.mjs), after it.
    expect(stdout).toMatch(/Listener bandwidth, bytes\/s per listener.*\(× 0\.\d\d\)/);
    expect(stdout).toContain('Opus encoding per call');
    // An API flood and stalled listeners against a bystander call (bench/realtime-isolation.mjs), last.
    expect(stdout).toContain('A client that stops reading: closed after');
  }, 250_000);

  it('times the write paths on a few sockets, every byte delivered (npm run bench:write-paths)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bench/write-paths.mjs', '--sockets=20', '--rounds=5', '--repeats=1'],
      { cwd: root, timeout: 60_000 },
    );
    for (const method of ['ws.send', 'socket.write', 'direct', 'earshot', 'held3 writev', 'held3 earshot'])
      expect(stdout).toMatch(new RegExp(`^  ${method} +\\d`, 'm'));
    expect(stdout).toMatch(/bytes received (\d+) of \1;/);
  }, 70_000);
});
