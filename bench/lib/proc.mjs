/** CPU time and memory of a process, from /proc (Linux), so the measured process needs no endpoint. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks;
function clkTck() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds used so far by `pid` and its child processes (all their threads). */
export function cpuSeconds(pid) {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/** `pid` and its live child processes (an earshot server's media workers, say). */
export function processTree(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children ? children.split(' ').map(Number) : [])];
  } catch {
    return [pid];
  }
}

/** User and system (kernel) CPU seconds used so far by `pid` and its child processes. */
export function cpuSplit(pid) {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    let stat;
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue; // a child that just exited
    }
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    user += Number(fields[11]) / clkTck();
    system += Number(fields[12]) / clkTck();
  }
  return { user, system };
}

/** Resident set size of `pid` and its child processes, in bytes. */
export function rssBytes(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {}
  }
  return total || Number.NaN;
}

/** User + nice + system CPU seconds of the whole machine so far (all cores; irq time excluded). */
export function machineCpuSeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
  return (Number(f[1]) + Number(f[2]) + Number(f[3])) / clkTck();
}

/**
 * Tracks CPU (% of one core) of several processes over a window, and of everything else on the
 * machine: `others` = machine − these processes − this one (colleagues' test runs, say).
 */
export function cpuWindow(pids) {
  const t0 = performance.now();
  const all = [...pids, process.pid];
  const start = all.map((pid) => cpuSeconds(pid));
  const machine0 = machineCpuSeconds();
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const pct = all.map((pid, i) => (100 * (cpuSeconds(pid) - start[i])) / wallS);
    const machine = (100 * (machineCpuSeconds() - machine0)) / wallS;
    const ours = pct.reduce((a, b) => a + b, 0);
    return { processes: pct.slice(0, pids.length), others: Math.max(0, machine - ours), machine };
  };
}

/** CPU used by the whole machine over `ms` (% of one core). */
export async function machineBusy(ms) {
  const t0 = performance.now();
  const c0 = machineCpuSeconds();
  await new Promise((r) => setTimeout(r, ms));
  return (100 * (machineCpuSeconds() - c0)) / ((performance.now() - t0) / 1000);
}

/** The soft limit on open files of this process (what its children inherit). */
export function openFileLimit() {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? (m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1])) : Number.NaN;
}

export function cpuModel() {
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}
