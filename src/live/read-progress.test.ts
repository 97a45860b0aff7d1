import { describe, expect, it } from 'vitest';
import { ReadProgress } from './read-progress.js';

describe('ReadProgress (live/read-progress.ts)', () => {
  it('sends one ping per second, numbered', () => {
    const p = new ReadProgress();
    const first = p.ping(0);
    expect(first?.readUInt32BE(0)).toBe(0);
    expect(p.ping(500)).toBeNull();
    expect(p.ping(1000)?.readUInt32BE(0)).toBe(1);
  });

  it('judges nobody until a ping was answered: a client that never pongs has no lag', () => {
    const p = new ReadProgress();
    p.ping(0);
    p.ping(1000);
    expect(p.lagMs(10_000)).toBe(0);
  });

  it('counts how long the oldest unanswered ping has waited, less the round trip', () => {
    const p = new ReadProgress();
    const ping0 = p.ping(0)!;
    p.pong(ping0);
    expect(p.lagMs(40)).toBe(0); // answered in 40 ms: the round trip
    p.ping(1000);
    expect(p.lagMs(1030)).toBe(0);
    // The client stops reading: the ping of 1000 waits.
    p.ping(2000);
    expect(p.lagMs(2040)).toBe(1000);
    expect(p.lagMs(3540)).toBe(2500);
  });

  it('a pong answers its ping and every earlier one (the stream is in order)', () => {
    const p = new ReadProgress();
    p.pong(p.ping(0)!);
    p.lagMs(20);
    p.ping(1000);
    const ping2 = p.ping(2000)!;
    p.ping(3000);
    expect(p.lagMs(3020)).toBe(2000);
    p.pong(ping2);
    // Only the ping of 3000 is pending now.
    expect(p.lagMs(3500)).toBe(480);
  });

  it('ignores pongs that answer none of its pings (keepalive, unsolicited, forged)', () => {
    const p = new ReadProgress();
    p.pong(p.ping(0)!);
    p.lagMs(10);
    p.ping(1000);
    p.pong(Buffer.alloc(0));
    p.pong(Buffer.from([0, 0, 0, 7]));
    p.pong(Buffer.from('forged pong'));
    expect(p.lagMs(2010)).toBe(1000);
  });

  it('stops pinging with 8 unanswered, the oldest still ageing', () => {
    const p = new ReadProgress();
    p.pong(p.ping(0)!);
    p.lagMs(0);
    for (let t = 1000; t <= 8000; t += 1000) expect(p.ping(t)).not.toBeNull();
    expect(p.ping(9000)).toBeNull();
    expect(p.lagMs(20_000)).toBe(19_000);
  });

  it('takes the least answer time of the last five as the round trip', () => {
    const p = new ReadProgress();
    p.pong(p.ping(0)!);
    p.lagMs(300); // a slow first answer
    for (let t = 1000; t <= 5000; t += 1000) {
      p.pong(p.ping(t)!);
      p.lagMs(t + 50);
    }
    // The 300 ms sample has left the window of five: the round trip is 50 ms.
    p.ping(6000);
    expect(p.lagMs(7000)).toBe(950);
  });
});
