/** The sizes of a bench/run.mjs run (full or --quick), its targets, and its fixed thresholds. */

export const FULL = {
  calls: 200,
  perCall: 5,
  probes: 10,
  warmupS: 2,
  windowS: 8,
  idleWindowS: 5,
  repeats: 5,
  ceiling: [500, 1000, 2000, 4000, 6000, 8000],
  stepSettleS: 2,
  stepWindowS: 6,
  deadlineS: 720,
  /** Seconds the whole run may spend on measuring disturbed windows again. */
  retryBudgetS: 60,
};

export const QUICK = {
  calls: 4,
  perCall: 3,
  probes: 2,
  warmupS: 0.3,
  windowS: 1,
  idleWindowS: 0.6,
  repeats: 1,
  ceiling: [12, 18],
  stepSettleS: 0.3,
  stepWindowS: 0.8,
  deadlineS: 90,
  retryBudgetS: 0,
};

export const TARGETS = {
  /** Issue 11: Scenario A's added latency and frames concealed, at ≤ 80 % of a core. */
  latencyP50Ms: 20,
  latencyP99Ms: 40,
  concealedPct: 0.01,
  concealedAtCpuPct: 80,
  vsNaive: 0.8,
  vsFloor: 1.1,
  ceiling: 4000,
  lagP99Ms: 20,
  /** Issue 11: 5,000 listeners connecting at once are all admitted within this (s). */
  stormAdmitS: 10,
  /** Issue 11: capacity with W media workers ≥ this × W × the capacity of one. */
  capacityScaling: 0.8,
};

/** earshot's eventLoopMonitoringPrecision: the floor of its event-loop lag histogram. */
export const LAG_RESOLUTION_MS = 10;
/** How long a ceiling step may spend connecting its new listeners (a saturated server accepts slowly). */
export const CEILING_CONNECT_BUDGET_MS = 20_000;
/** A window during which other processes used more than this (% of one core) is measured again. */
export const OTHERS_MAX_CPU = 20;
