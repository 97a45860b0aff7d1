import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { FRAME_MS } from '../domain/audio-format.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallRoom } from './call-room.js';
import type { Clock } from './clock.js';
import type { DirectWriteBatch } from './direct-write.js';
import type { SendCounts } from './listener.js';
import type { WriteCoalescing } from './modes.js';
import { ArrivalPhases } from './tick-phase.js';
import { TickWriter, WriteCoalescingPolicy } from './write-coalescing.js';

/**
 * The process's mixing loop. The process clock ticks `slots` times per 20 ms frame period (every
 * 5 ms in a server; once, every 20 ms, where a clock of 20 ms is given); each room mixes and sends
 * one message per output format once per period, at the sub-tick of its own slot — the one soonest
 * after its frames arrive (tick-phase.ts), chosen again every second while nothing is held back. It
 * runs on the clock only while some room exists. Under load the listener writes of several periods
 * go out together (one TickWriter per slot, one policy: EARSHOT_WRITE_COALESCING); what was sent,
 * dropped and evicted is counted into the metrics.
 */
export class RoomTicker {
  readonly #rooms = new Set<CallRoom>();
  readonly #clock: Clock;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #policy: WriteCoalescingPolicy;
  /** Sub-ticks per frame period: the clock's ticks in FRAME_MS. */
  readonly #slots: number;
  /** The rooms of each slot, and the writer of each. */
  readonly #bySlot: Set<CallRoom>[];
  readonly #writers: TickWriter[];
  readonly #slotOf = new Map<CallRoom, RoomSlot>();
  readonly #result: SendCounts = { sent: 0, dropped: 0, evicted: 0 };
  readonly #nowMs: () => number;
  /** This period's coalescing decision (asked of the policy once per period, at slot 0). */
  #hold = false;
  /** When slot 0 last ran, mod FRAME_MS: where the slots fall in the period. */
  #slot0PhaseMs = 0;
  #period = 0;
  #slot = 0;
  /** The clock's tick now running. */
  #tickNo = 0;

  constructor(options: {
    clock: Clock;
    metrics: Metrics;
    log: Logger;
    writeCoalescing: WriteCoalescing;
    batch: DirectWriteBatch | null;
    /** A monotonic clock in ms for arrival phases (performance.now); injectable for tests. */
    nowMs?: () => number;
  }) {
    this.#clock = options.clock;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#nowMs = options.nowMs ?? (() => performance.now());
    const periodMs = options.clock.periodMs;
    this.#slots = periodMs > 0 && periodMs < FRAME_MS ? Math.round(FRAME_MS / periodMs) : 1;
    this.#policy = new WriteCoalescingPolicy(options.writeCoalescing, {
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
    this.#metrics.writeCoalescing.set(this.#policy.ticksPerWrite);
    this.#bySlot = Array.from({ length: this.#slots }, () => new Set<CallRoom>());
    this.#writers = this.#bySlot.map(
      (rooms) =>
        new TickWriter(
          this.#policy,
          (visit) => {
            for (const room of rooms) room.forEachListener(visit);
          },
          options.batch,
        ),
    );
  }

  add(room: CallRoom): void {
    if (this.#rooms.size === 0) this.#clock.add(this.#tick);
    this.#rooms.add(room);
    // Until its frames tell, the slot after the one running: mixed within the period.
    const slot = (this.#slot + 1) % this.#slots;
    this.#slotOf.set(room, { slot, lastTick: Number.NEGATIVE_INFINITY, phases: new ArrivalPhases() });
    this.#bySlot[slot].add(room);
  }

  delete(room: CallRoom): void {
    if (!this.#rooms.delete(room)) return;
    const slot = this.#slotOf.get(room);
    this.#slotOf.delete(room);
    if (slot) this.#bySlot[slot.slot].delete(room);
    if (this.#rooms.size === 0) this.#clock.remove(this.#tick);
  }

  /** A frame of `room` arrived (before it is buffered): where its period's frames fall. */
  noteArrival(room: CallRoom): void {
    this.#slotOf.get(room)?.phases.note(this.#nowMs());
  }

  /** The slot a room mixes in (0 … slots − 1), or undefined; for tests and stats. */
  slotOf(room: CallRoom): number | undefined {
    return this.#slotOf.get(room)?.slot;
  }

  get slots(): number {
    return this.#slots;
  }

  /** Mixes and sends this period's tick of every room of the current slot. */
  readonly #writeTick = (): void => {
    const nowMs = Date.now();
    const tick = this.#tickNo;
    for (const room of this.#bySlot[this.#slot]) {
      const slot = this.#slotOf.get(room);
      // A room moved to a slot that comes sooner than a period after its last mix waits for that
      // slot's next turn: pulled early, its jitter buffer would find the next frame not yet there
      // (concealed, and the buffer a frame deeper for 5 s). Moved later, one frame waits longer once.
      if (!slot || tick - slot.lastTick < this.#slots) continue;
      slot.lastTick = tick;
      room.tick(nowMs, this.#result);
    }
  };

  readonly #tick = (tick: number, behind: number): void => {
    const slots = this.#slots;
    this.#tickNo = tick;
    this.#slot = tick % slots;
    this.#period = Math.floor(tick / slots);
    if (this.#slot === 0) {
      this.#slot0PhaseMs = this.#nowMs() % FRAME_MS;
      this.#hold = this.#policy.holdBack(this.#period);
      if (this.#period % PHASE_EVERY_PERIODS === 0 && slots > 1 && behind === 0) this.#placeRooms();
    }
    const result = this.#result;
    result.sent = result.dropped = result.evicted = 0;
    // Short of CPU — catching up after a stall (this slot comes again in the burst), or coalescing
    // under sustained load — each listener gets several periods' messages in one system call
    // (TickWriter). Otherwise every message goes out as soon as it is mixed.
    this.#writers[this.#slot].writeHeld(this.#hold || behind >= slots, this.#writeTick);
    if (result.sent > 0) this.#metrics.framesOut.inc(result.sent);
    if (result.dropped > 0) this.#metrics.framesDropped.inc({ reason: 'listener_backlog' }, result.dropped);
    if (result.evicted > 0)
      this.#log.warn({ evicted: result.evicted }, 'closed listeners too slow to keep up');
  };

  /**
   * Moves each room to the slot soonest after its frames arrive. Only while no writer holds
   * messages back: a room moved out of a corked slot would stay corked.
   */
  #placeRooms(): void {
    if (this.#hold || this.#writers.some((w) => w.corked)) return;
    for (const [room, slot] of this.#slotOf) {
      const best = slot.phases.bestSlot(this.#slot0PhaseMs, this.#slots, slot.slot);
      if (best === slot.slot) continue;
      this.#bySlot[slot.slot].delete(room);
      this.#bySlot[best].add(room);
      slot.slot = best;
    }
  }
}

interface RoomSlot {
  slot: number;
  /** The clock tick it last mixed at: it mixes again no sooner than a period later. */
  lastTick: number;
  readonly phases: ArrivalPhases;
}

/** Rooms are placed again once a second (their arrival phases halve then). */
const PHASE_EVERY_PERIODS = 50;
