import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Clock } from './clock.js';

type Callback = () => void;

/**
 * Time under the test's control, as one event loop sees it: the clock reads `nowNs` (its injected
 * time source), and its timers and immediates (the global setTimeout/clearTimeout and
 * setImmediate/clearImmediate, stubbed) wait in queues. `runUntil` lets time pass one loop
 * iteration after another, like libuv: the timers that are due, then the poll phase (the I/O
 * callbacks that have arrived by then: `arrive`), then the check phase (the immediates queued
 * before it began; one queued meanwhile waits for the next iteration). When nothing is ready,
 * time jumps to the next timer. `block` is a callback that holds the loop for a while, so a timer
 * that falls due meanwhile fires late, when it ends. Like Node's, a timer never fires sooner than
 * 1 ms after it is set.
 */
function fakeTime() {
  let nowMs = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: Callback }>();
  const immediates = new Map<number, Callback>();
  const io: { at: number; fn: Callback }[] = [];
  vi.stubGlobal('setTimeout', (fn: Callback, ms: number) => {
    const id = nextId++;
    timers.set(id, { at: nowMs + Math.max(1, ms), fn });
    return id;
  });
  vi.stubGlobal('clearTimeout', (id: number) => timers.delete(id));
  vi.stubGlobal('setImmediate', (fn: Callback) => {
    const id = nextId++;
    immediates.set(id, fn);
    return id;
  });
  vi.stubGlobal('clearImmediate', (id: number) => immediates.delete(id));
  const dueTimer = () => {
    let first: [number, { at: number; fn: Callback }] | undefined;
    for (const entry of timers)
      if (entry[1].at <= nowMs && (!first || entry[1].at < first[1].at)) first = entry;
    return first;
  };
  return {
    nowNs: () => BigInt(nowMs) * 1_000_000n,
    nowMs: () => nowMs,
    pendingTimers: () => timers.size,
    pendingImmediates: () => immediates.size,
    /** An I/O callback (a socket read) ready from `atMs` on: it runs in the first poll phase after. */
    arrive(atMs: number, fn: Callback) {
      io.push({ at: atMs, fn });
    },
    runUntil(ms: number) {
      for (;;) {
        // Timers phase.
        for (let t = dueTimer(); t; t = dueTimer()) {
          timers.delete(t[0]);
          t[1].fn();
        }
        // Poll phase: what has arrived by now, in arrival order.
        io.sort((a, b) => a.at - b.at);
        while (io.length > 0 && io[0].at <= nowMs) io.shift()?.fn();
        // Check phase: the immediates queued before it.
        const ready = [...immediates];
        for (const [id, fn] of ready) {
          if (!immediates.delete(id)) continue; // cleared meanwhile
          fn();
        }
        if (immediates.size > 0 || dueTimer() || (io.length > 0 && io[0].at <= nowMs)) continue;
        let nextAt = Number.POSITIVE_INFINITY;
        for (const [, t] of timers) nextAt = Math.min(nextAt, t.at);
        for (const e of io) nextAt = Math.min(nextAt, e.at);
        if (nextAt > ms) break;
        nowMs = Math.max(nowMs, nextAt);
      }
      nowMs = Math.max(nowMs, ms);
    },
    block(ms: number) {
      nowMs += ms;
    },
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

/** The remaining poll modes: what runs in both must not depend on it. */
const MODES = ['never', 'once'] as const;

describe('Clock', () => {
  it('ticks on 20 ms deadlines: late timers and slow handlers do not accumulate into drift', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const ticks: { durationMs: number; lateMs: number }[] = [];
      const clock = new Clock({
        nowNs: time.nowNs,
        poll,
        onTick: (durationMs, lateMs) => ticks.push({ durationMs, lateMs }),
      });
      const at: number[] = [];
      clock.add(() => {
        at.push(time.nowMs());
        time.block(3); // each tick's work takes 3 ms
      });
      // Something else holds the loop for 7 ms around the deadline at 40 ms: that tick runs late.
      setTimeout(() => time.block(7), 35);
      time.runUntil(1000);
      clock.stop();
      // 50 ticks in a second, each on its deadline, except the one that could not run before 42 ms.
      expect(at, poll).toEqual(Array.from({ length: 50 }, (_, i) => (i === 1 ? 42 : 20 * (i + 1))));
      expect(ticks.map((t) => t.durationMs)).toEqual(at.map(() => 3));
      expect(ticks.map((t) => t.lateMs)).toEqual(at.map((_, i) => (i === 1 ? 2 : 0)));
      expect(clock.tick).toBe(50);
      vi.unstubAllGlobals();
    }
  });

  it('runs missed ticks back to back after a stall, up to the catch-up limit, then skips', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const skipped: number[] = [];
      const clock = new Clock({
        nowNs: time.nowNs,
        poll,
        maxCatchUpTicks: 5,
        onSkip: (n) => skipped.push(n),
      });
      const ran: [tick: number, at: number][] = [];
      clock.add((tick) => {
        ran.push([tick, time.nowMs()]);
        if (tick === 0) time.block(205); // the loop is held for ~10 periods: until 225 ms
      });
      time.runUntil(300);
      clock.stop();
      expect(ran, poll).toEqual([
        [0, 20],
        // When the handler returns, deadlines 40..100 ms run back to back (5 ticks with the one
        // that stalled: the limit) ...
        [1, 225],
        [2, 225],
        [3, 225],
        [4, 225],
        // ... those of 120..220 ms are skipped (6), and the clock goes on from the next deadline.
        [11, 240],
        [12, 260],
        [13, 280],
        [14, 300],
      ]);
      expect(skipped).toEqual([6]);
      // Counted ticks (run + skipped) follow time: 300 ms / 20 ms.
      expect(clock.tick).toBe(15);
      vi.unstubAllGlobals();
    }
  });

  it('tells each tick how many more are due: counting down to 0 through a catch-up burst', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const clock = new Clock({ nowNs: time.nowNs, poll, maxCatchUpTicks: 5 });
      const behind: number[] = [];
      clock.add((_tick, b) => behind.push(b));
      setTimeout(() => time.block(105), 61); // another callback holds the loop from 61 to 166 ms
      time.runUntil(300);
      clock.stop();
      // On time: 0. At 166 ms the deadlines 80..160 ms are due: 5 ticks, counting down to 0; then
      // on time again from 180 ms.
      expect(behind, poll).toEqual([0, 0, 0, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(clock.tick).toBe(15);
      vi.unstubAllGlobals();
    }
  });

  it('counts down only within the catch-up limit when more ticks are due than it will run', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const skipped: number[] = [];
      const clock = new Clock({
        nowNs: time.nowNs,
        poll,
        maxCatchUpTicks: 3,
        onSkip: (n) => skipped.push(n),
      });
      const behind: number[] = [];
      clock.add((_tick, b) => behind.push(b));
      setTimeout(() => time.block(100), 21); // from 21 to 121 ms: deadlines 40..120 ms fall due
      time.runUntil(140);
      clock.stop();
      // It runs 3 (40..80 ms) counting down from 2, skips 2 (100, 120 ms), runs 140 ms on time.
      expect(behind, poll).toEqual([0, 2, 1, 0, 0]);
      expect(skipped).toEqual([2]);
      expect(clock.tick).toBe(7);
      vi.unstubAllGlobals();
    }
  });

  it('counts `behind` afresh at each tick of a burst, when the burst itself takes time', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const log: string[] = [];
      const clock = new Clock({ nowNs: time.nowNs, poll });
      clock.add((tick, behind) => {
        log.push(`tick ${tick} behind ${behind} at ${time.nowMs()}`);
        if (tick === 0) time.block(65); // the loop is held from 20 to 85 ms: deadlines 40, 60, 80 fall due
        // The first catch-up tick takes 16 ms: by its end, the deadline of 100 ms is due as well.
        if (tick === 1) time.block(16);
      });
      // A participant's frames land every 20 ms, at 30, 50 and 70 ms, during the stall.
      for (const at of [30, 50, 70]) time.arrive(at, () => log.push(`read ${at} at ${time.nowMs()}`));
      time.runUntil(130);
      clock.stop();
      const reads = ['read 30 at 85', 'read 50 at 85', 'read 70 at 85'];
      const burst = [
        'tick 1 behind 2 at 85', // the deadline of 40 ms; those of 60 and 80 are due too
        // At 101 ms: 60, 80 and 100 are due. The count is taken afresh at each tick.
        'tick 2 behind 2 at 101',
        'tick 3 behind 1 at 101',
        'tick 4 behind 0 at 101',
      ];
      expect(log, poll).toEqual([
        'tick 0 behind 0 at 20',
        // 'once' reads what arrived during the stall before the burst; 'never' only after it.
        ...(poll === 'once'
          ? [...reads, ...burst]
          : [...burst, ...reads.map((r) => r.replace('at 85', 'at 101'))]),
        'tick 5 behind 0 at 120', // on time
      ]);
      expect(clock.tick).toBe(6);
      vi.unstubAllGlobals();
    }
  });

  it('numbers ticks consecutively and isolates a throwing handler', () => {
    const time = fakeTime();
    const errors: unknown[] = [];
    const clock = new Clock({ nowNs: time.nowNs, onHandlerError: (e) => errors.push(e) });
    const ticks: number[] = [];
    clock.add(() => {
      throw new Error('boom');
    });
    clock.add((t) => ticks.push(t));
    time.runUntil(110);
    clock.stop();
    expect(ticks).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toEqual(ticks.map(() => new Error('boom')));
  });

  it('stops when the last handler is removed and restarts when one is added', () => {
    const time = fakeTime();
    const clock = new Clock({ nowNs: time.nowNs });
    const ran: number[] = [];
    const h = (tick: number) => ran.push(tick);
    clock.add(h);
    expect(clock.running).toBe(true);
    time.runUntil(40);
    clock.remove(h);
    expect(clock.running).toBe(false);
    expect(time.pendingTimers() + time.pendingImmediates()).toBe(0);
    time.runUntil(140);
    expect(ran).toEqual([0, 1]);
    // Restarted, it counts on from where it stopped, a period after it is added.
    clock.add(h);
    expect(clock.running).toBe(true);
    time.runUntil(159);
    expect(ran).toEqual([0, 1]);
    time.runUntil(160);
    expect(ran).toEqual([0, 1, 2]);
    clock.stop();
    expect(time.pendingTimers() + time.pendingImmediates()).toBe(0);
  });

  it('runs a tick less than a period late in the timer phase, ahead of that iteration’s I/O', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const log: string[] = [];
      const clock = new Clock({ nowNs: time.nowNs, poll });
      clock.add((tick) => log.push(`tick ${tick} at ${time.nowMs()}`));
      // Another callback holds the loop from 30 to 45 ms; a frame lands on its socket at 38 ms,
      // before the deadline of 40 ms, but can only be read once the loop is free. The late tick 1
      // runs before it is read (a request flood would otherwise be drained first), and the next
      // ones are on time.
      setTimeout(() => time.block(15), 30);
      time.arrive(38, () => log.push(`read at ${time.nowMs()}`));
      time.runUntil(60);
      clock.stop();
      expect(log, poll).toEqual(['tick 0 at 20', 'tick 1 at 45', 'read at 45', 'tick 2 at 60']);
      vi.unstubAllGlobals();
    }
  });

  it("poll 'once': after a stall, one tick, one poll reading what arrived, then the rest back to back", () => {
    const time = fakeTime();
    const log: string[] = [];
    const clock = new Clock({ nowNs: time.nowNs, poll: 'once' });
    clock.add((tick, behind) => {
      log.push(`tick ${tick} behind ${behind} at ${time.nowMs()}`);
      if (tick === 0) time.block(65); // held from 20 to 85 ms: deadlines 40, 60, 80 fall due
      // Work that arrives during the burst waits for it to end: no poll between its ticks.
      if (tick === 2) time.arrive(time.nowMs(), () => log.push(`read late at ${time.nowMs()}`));
    });
    for (const at of [30, 50, 70]) time.arrive(at, () => log.push(`read ${at} at ${time.nowMs()}`));
    time.runUntil(105);
    clock.stop();
    expect(log).toEqual([
      'tick 0 behind 0 at 20',
      // Tick 0's own iteration polls after it: what arrived during the stall is read first.
      'read 30 at 85',
      'read 50 at 85',
      'read 70 at 85',
      // Then, in that iteration's check phase, the ticks of 40, 60 and 80 ms back to back.
      'tick 1 behind 2 at 85',
      'tick 2 behind 1 at 85',
      'tick 3 behind 0 at 85',
      'read late at 85',
      'tick 4 behind 0 at 100',
    ]);
    expect(time.pendingTimers() + time.pendingImmediates()).toBe(0);
  });

  it("poll 'never': a catch-up burst runs back to back in the timer phase, before the I/O that waited", () => {
    const time = fakeTime();
    const log: string[] = [];
    const clock = new Clock({ nowNs: time.nowNs, poll: 'never' });
    clock.add((tick, behind) => {
      log.push(`tick ${tick} behind ${behind} at ${time.nowMs()}`);
      if (tick === 1) time.block(45); // held from 40 to 85 ms: deadlines 60 and 80 fall due
    });
    time.arrive(50, () => log.push(`read at ${time.nowMs()}`));
    time.runUntil(100);
    clock.stop();
    expect(log).toEqual([
      'tick 0 behind 0 at 20',
      'tick 1 behind 0 at 40',
      // The ticks that fell due while tick 1 held the loop run in the same callback, at once.
      'tick 2 behind 1 at 85',
      'tick 3 behind 0 at 85',
      'read at 85',
      'tick 4 behind 0 at 100',
    ]);
    expect(time.pendingTimers() + time.pendingImmediates()).toBe(0);
  });

  it('the default is poll never: a burst runs before the I/O that waited', () => {
    const time = fakeTime();
    const log: string[] = [];
    const clock = new Clock({ nowNs: time.nowNs });
    clock.add((tick) => {
      log.push(`tick ${tick}`);
      if (tick === 0) time.block(45); // held from 20 to 65 ms: deadlines 40 and 60 fall due
    });
    time.arrive(30, () => log.push('read'));
    time.runUntil(70);
    clock.stop();
    expect(log).toEqual(['tick 0', 'tick 1', 'tick 2', 'read']);
  });

  it('stop() during a catch-up cancels the rest: from a handler, or from the I/O read before the burst', () => {
    const cases = [
      ['never', 'handler', [0, 1, 2]],
      ['once', 'handler', [0, 1, 2]],
      // The poll between tick 0 and the burst reads a socket whose callback stops the clock.
      ['once', 'io', [0]],
    ] as const;
    for (const [poll, stopper, expected] of cases) {
      const time = fakeTime();
      const ticks: number[] = [];
      const clock = new Clock({ nowNs: time.nowNs, poll });
      clock.add((tick) => {
        ticks.push(tick);
        if (tick === 0) time.block(105); // until 125 ms: 5 ticks due
        if (tick === 0 && stopper === 'io') time.arrive(time.nowMs(), () => clock.stop());
        if (tick === 2 && stopper === 'handler') clock.stop();
      });
      time.runUntil(300);
      expect(ticks, `${poll} ${stopper}`).toEqual(expected);
      expect(clock.running).toBe(false);
      expect(time.pendingTimers() + time.pendingImmediates()).toBe(0);
      vi.unstubAllGlobals();
    }
  });

  it('a handler that stops and restarts the clock mid-burst leaves exactly one schedule', () => {
    for (const poll of MODES) {
      const time = fakeTime();
      const ran: [tick: number, at: number][] = [];
      const clock = new Clock({ nowNs: time.nowNs, poll });
      const h = (tick: number) => {
        ran.push([tick, time.nowMs()]);
        if (tick === 0) time.block(65); // until 85 ms: 3 more ticks due
        if (tick === 1) {
          clock.stop();
          clock.add(h); // restarted: next tick a period from now (105 ms)
        }
      };
      clock.add(h);
      time.runUntil(140);
      clock.stop();
      expect(ran, poll).toEqual([
        [0, 20],
        [1, 85],
        [2, 105],
        [3, 125],
      ]);
      expect(time.pendingTimers() + time.pendingImmediates()).toBe(0);
      vi.unstubAllGlobals();
    }
  });
});

describe('Clock on the real event loop', () => {
  it.each(MODES)(
    'poll %s: where a socket read and an immediate fall in a catch-up burst, and stop() ends it',
    async (poll) => {
      // The real loop and real sockets; only the clock's time is injected, so that a stall of five
      // periods is a jump of the time source, not a wait.
      let offsetNs = 0n;
      const nowNs = () => process.hrtime.bigint() + offsetNs;
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      const client = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => client.once('connect', resolve));
      const peer = await accepted;
      try {
        const log: string[] = [];
        peer.on('data', () => log.push('read'));
        const clock = new Clock({ nowNs, poll });
        const done = new Promise<void>((resolve) => {
          clock.add((tick, behind) => {
            log.push(`tick ${tick} behind ${behind}`);
            if (tick === 0) {
              offsetNs += 100_000_000n; // a 100 ms stall: 5 more deadlines due
              client.write('frame'); // lands in the peer's socket buffer during the "stall"
              setImmediate(() => log.push('immediate'));
            }
            if (tick === 4) {
              clock.stop(); // tick 5 is due and would run next: it must not
              setTimeout(resolve, 30);
            }
          });
        });
        await done;
        const ticks = log.filter((e) => e.startsWith('tick')).map((e) => e.split(' ').map(Number));
        // Ticks 0 to 4 ran, the stall's catch-up counting down (from 4, or more if the real timer
        // of tick 0 was itself late; a step down less where a loaded machine let another deadline
        // pass during the burst); tick 4 still had more due, and none ran after stop().
        expect(ticks.map(([, tick]) => tick)).toEqual([0, 1, 2, 3, 4]);
        const behind = ticks.map(([, , , b]) => b);
        expect(behind[1]).toBeGreaterThanOrEqual(4);
        for (let i = 2; i <= 4; i++) expect(behind[i]).toBeGreaterThanOrEqual(behind[i - 1] - 1);
        const at = (tick: number) => log.findIndex((e) => e.startsWith(`tick ${tick} `));
        if (poll === 'once') {
          // One poll between tick 0 and the burst: the socket is read there, and the immediate
          // queued by tick 0 runs just before the burst's.
          expect(log.indexOf('read')).toBeGreaterThan(at(0));
          expect(log.indexOf('read')).toBeLessThan(at(1));
          expect(log.indexOf('immediate')).toBe(at(1) - 1);
        } else {
          // The whole burst runs in tick 0's timer callback: both come after it.
          expect(log.indexOf('read')).toBeGreaterThan(at(4));
          expect(log.indexOf('immediate')).toBeGreaterThan(at(4));
        }
        expect(clock.running).toBe(false);
      } finally {
        client.destroy();
        peer.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  );

  it('due() and afterTick(): work that waits while a tick is due runs between ticks, never before one', async () => {
    // The clock's time is the test's alone: it moves only when a piece of work "takes" time.
    let nowMs = 0;
    const clock = new Clock({ nowNs: () => BigInt(nowMs) * 1_000_000n });
    const log: string[] = [];
    const work = async (name: string, costMs: number) => {
      while (clock.due()) await clock.afterTick();
      log.push(`${name} at ${nowMs}`);
      nowMs += costMs;
    };
    const all: Promise<void>[] = [];
    const done = new Promise<void>((resolve) =>
      clock.add((tick) => {
        log.push(`tick ${tick} at ${nowMs}`);
        if (tick === 0) {
          nowMs = 20;
          // Four requests read in one poll: A and B fit before the deadline at 40, C and D wait.
          for (const [name, cost] of [
            ['A', 15],
            ['B', 15],
            ['C', 25],
            ['D', 5],
          ] as const)
            all.push(work(name, cost));
        }
        if (tick === 2) {
          clock.stop();
          resolve();
        }
      }),
    );
    expect(clock.due()).toBe(false);
    nowMs = 20; // the first deadline, when the real timer fires
    await done;
    await Promise.all(all);
    expect(log).toEqual([
      'tick 0 at 20',
      'A at 20',
      'B at 35',
      // Due at 40 since B ran: C waits for tick 1, which runs as soon as the loop is free (late, at 50).
      'tick 1 at 50',
      'C at 50',
      // C took until 75, past the deadline at 60: D waits again, for tick 2.
      'tick 2 at 75',
      'D at 75',
    ]);
    // A stopped clock is never due, and lets anyone waiting go at once.
    expect(clock.due()).toBe(false);
    await clock.afterTick();
  });
});
