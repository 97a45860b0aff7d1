import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); EARSHOT_CHROMIUM points elsewhere. */
const CHROMIUM_PATH = process.env.EARSHOT_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
];

/** Why the browser tests cannot run here, or null. Under CI=true a missing browser fails instead. */
export const browserProblem: string | null = existsSync(CHROMIUM_PATH) ? null : `${CHROMIUM_PATH} not found`;
if (browserProblem !== null) {
  if (process.env.CI === 'true') {
    throw new Error(
      `Browser tests need Chromium under CI=true: ${browserProblem} (apt-get install -y chromium)`,
    );
  }
  console.warn(`[skip] browser tests skipped: ${browserProblem} (apt-get install -y chromium)`);
}

export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh user-data directory, removed on close. Autoplay is allowed unless
 * `blockAutoplay` (then audio may only start on a user gesture, as browsers do by default).
 */
export async function launchBrowser(options: { blockAutoplay?: boolean } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'earshot-chromium-'));
  const args = options.blockAutoplay
    ? [
        ...CHROMIUM_ARGS.filter((a) => !a.startsWith('--autoplay-policy=')),
        '--autoplay-policy=document-user-activation-required',
      ]
    : CHROMIUM_ARGS;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** `window.__earshot`, the state the console exposes for tests (docs/console.md). */
export interface ConsoleState {
  keySet: boolean;
  polls: number;
  calls: string[];
  errors: { calls: string; listen: string };
  connection: {
    state: 'idle' | 'connecting' | 'live' | 'ended';
    callId: string | null;
    code: number | null;
    reason: string;
  };
  audio: {
    contextState: string;
    contextRate: number;
    receivedSamples: number;
    playedSamples: number;
    underruns: number;
    lateFrames: number;
    overflowDrops: number;
    droppedSamples: number;
    bufferedMs: number;
    rateAdjustPpm: number;
  } | null;
  gaps: { count: number; ms: number };
  level: { rmsDbfs: number; peakDbfs: number; maxRmsDbfs: number };
  speaking: { now: string[]; heard: string[] };
}

/** A copy of the console's state. (Page code is given as strings: this project compiles without DOM types.) */
export function consoleState(page: Page): Promise<ConsoleState> {
  return page.evaluate('structuredClone(window.__earshot)');
}

/**
 * Waits until `predicate` holds for the console's state, polled from here every 100 ms. (Polling in
 * the page would need eval, which the console's Content-Security-Policy rightly forbids.)
 */
export function waitForConsole(
  page: Page,
  predicate: (state: ConsoleState) => boolean,
  timeoutMs = 5000,
): Promise<ConsoleState> {
  return pollUntil(
    () => consoleState(page),
    predicate,
    `console state never matched ${predicate}`,
    timeoutMs,
  );
}

/** Reads `read()` every 100 ms until `predicate` holds (its value), or throws `what` with the last one. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
