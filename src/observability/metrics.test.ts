import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';

const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('Metrics.render', () => {
  it("shows earshot's own counters as they are at each scrape, and Node's process metrics too", async () => {
    const metrics = new Metrics({ countActiveCalls: async () => 0 });
    expect(sample(await metrics.render(), 'earshot_frames_in_total')).toBe(0);
    metrics.framesIn.inc(3);
    const text = await metrics.render();
    expect(sample(text, 'earshot_frames_in_total')).toBe(3);
    expect(text).toMatch(/^earshot_process_cpu_user_seconds_total /m);
  });

  it('counts active calls in the database at most once a second, and again as soon as this node changed them', async () => {
    let reads = 0;
    let active = 1;
    const metrics = new Metrics({
      countActiveCalls: async () => {
        reads++;
        return active;
      },
    });
    await Promise.all(Array.from({ length: 20 }, () => metrics.render()));
    expect(reads).toBe(1);
    active = 2;
    expect(sample(await metrics.render(), 'earshot_active_calls')).toBe(1);
    metrics.activeCallsChanged();
    expect(sample(await metrics.render(), 'earshot_active_calls')).toBe(2);
    expect(reads).toBe(2);
  });

  it('keeps no failed count: the next scrape reads again', async () => {
    let fail = true;
    const metrics = new Metrics({
      countActiveCalls: async () => {
        if (fail) throw new Error('database down');
        return 5;
      },
    });
    await metrics.render();
    fail = false;
    expect(sample(await metrics.render(), 'earshot_active_calls')).toBe(5);
  });
});
