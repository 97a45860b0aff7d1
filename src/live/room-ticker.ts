import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { CallRoom } from './call-room.js';
import type { Clock } from './clock.js';
import type { DirectWriteBatch } from './direct-write.js';
import type { SendCounts } from './listener.js';
import type { WriteCoalescing } from './modes.js';
import { TickWriter, WriteCoalescingPolicy } from './write-coalescing.js';

/**
 * The process's mixing loop: every 20 ms tick of the process clock, each room with listeners mixes
 * and sends one message per output format. It runs on the clock only while some room exists. Under load the listener writes of
 * several ticks go out together (TickWriter, EARSHOT_WRITE_COALESCING); what was sent, dropped
 * and evicted is counted into the metrics.
 */
export class RoomTicker {
  readonly #rooms = new Set<CallRoom>();
  readonly #clock: Clock;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #writer: TickWriter;
  readonly #result: SendCounts = { sent: 0, dropped: 0, evicted: 0 };

  constructor(options: {
    clock: Clock;
    metrics: Metrics;
    log: Logger;
    writeCoalescing: WriteCoalescing;
    batch: DirectWriteBatch | null;
  }) {
    this.#clock = options.clock;
    this.#metrics = options.metrics;
    this.#log = options.log;
    const policy = new WriteCoalescingPolicy(options.writeCoalescing, {
      onChange: (ticksPerWrite, utilization) => {
        this.#metrics.writeCoalescing.set(ticksPerWrite);
        this.#log.info(
          { ticksPerWrite, utilization: Math.round(utilization * 100) / 100 },
          ticksPerWrite > 1
            ? `event loop busy: writing listener messages ${ticksPerWrite} ticks at a time`
            : 'event loop no longer busy: writing listener messages every tick',
        );
      },
    });
    this.#metrics.writeCoalescing.set(policy.ticksPerWrite);
    this.#writer = new TickWriter(
      policy,
      (visit) => {
        for (const room of this.#rooms) room.forEachListener(visit);
      },
      options.batch,
    );
  }

  add(room: CallRoom): void {
    if (this.#rooms.size === 0) this.#clock.add(this.#tick);
    this.#rooms.add(room);
  }

  delete(room: CallRoom): void {
    if (!this.#rooms.delete(room)) return;
    if (this.#rooms.size === 0) this.#clock.remove(this.#tick);
  }

  /** Mixes and sends one tick of every room. */
  readonly #writeTick = (): void => {
    const nowMs = Date.now();
    for (const room of this.#rooms) room.tick(nowMs, this.#result);
  };

  readonly #tick = (tick: number, behind: number): void => {
    const result = this.#result;
    result.sent = result.dropped = result.evicted = 0;
    // Short of CPU — catching up after a stall, or coalescing under sustained load — each listener
    // gets several ticks' messages in one system call (TickWriter). Otherwise every message goes
    // out as soon as it is mixed.
    this.#writer.write(tick, behind, this.#writeTick);
    if (result.sent > 0) this.#metrics.framesOut.inc(result.sent);
    if (result.dropped > 0) this.#metrics.framesDropped.inc({ reason: 'listener_backlog' }, result.dropped);
    if (result.evicted > 0)
      this.#log.warn({ evicted: result.evicted }, 'closed listeners too slow to keep up');
  };
}
