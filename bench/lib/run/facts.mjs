/** What a bench/run.mjs report says about where it ran: machine, versions, and its speed right now. */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { ROOT } from '../paths.mjs';
import { cpuModel, openFileLimit } from '../proc.mjs';

/**
 * A fixed CPU-bound workload timed in this process — resampling 20 ms of 8 kHz audio to 16 kHz
 * with earshot's resampler — in µs of CPU per frame: the speed of the (virtual) machine right now,
 * which varies between runs on a shared host.
 */
export async function calibrate() {
  const { createResampler } = await import('../../../dist/audio/resampler.js');
  const r = createResampler(8000, 16000);
  const input = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin(i / 3)));
  const output = new Int16Array(r.maxOutputLength(160));
  for (let i = 0; i < 2000; i++) r.process(input, output);
  const c0 = process.cpuUsage();
  for (let i = 0; i < 10_000; i++) r.process(input, output);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 10_000;
}

/** The machine, the commit and the run's sizes (`cfg`), with a first calibration. */
export async function machineFacts({ quick, cfg }) {
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: cpuModel(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    openFiles: openFileLimit(),
    memGb: os.totalmem() / 2 ** 30,
    commit: await promisify(execFile)('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).then(
      (r) => r.stdout.trim(),
      () => 'unknown',
    ),
    quick,
    cfg,
    calibrationUs: await calibrate(),
  };
}
