import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, runCli } from '../helpers/cli.js';
import { browserProblem, consoleState, launchBrowser, type TestBrowser, waitForConsole } from './browser.js';

const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));

/** The promise: `npm run demo`, open the printed URL, click Listen, hear speech. */
describe.skipIf(browserProblem !== null)('the demo, from the terminal to the browser', () => {
  let demo: RunningCli;
  let browser: TestBrowser;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'earshot-demo-e2e-'));
    // What `npm run demo` runs, on a free port and a throwaway database.
    demo = runCli(['serve', '--demo', '--port', '0', '--log-level', 'warn'], {
      EARSHOT_DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    demo?.child.kill('SIGTERM');
    await demo?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays a simulated call with speech after pasting the printed key and clicking Listen', async () => {
    const [, apiKey] = await demo.waitFor(/API key:\s+(esk_\S+)/);
    const [, consoleUrl] = await demo.waitFor(/Console:\s+(http:\/\/\S+\/)/);
    const page = await browser.context.newPage();
    await page.goto(consoleUrl);
    await page.getByLabel("Your organization's API key").fill(apiKey);
    await page.getByRole('button', { name: 'Use key' }).click();
    const listen = page.getByRole('button', { name: /^Listen to call / }).first();
    await listen.waitFor({ timeout: 10_000 });
    await listen.click();
    // Speech, not silence: the worklet played audio and the analyser saw a talker's level.
    await waitForConsole(
      page,
      (s) => (s.audio?.playedSamples ?? 0) > 16000 * 3 && s.level.maxRmsDbfs > -40,
      20_000,
    );
    const state = await consoleState(page);
    expect(state.connection.state).toBe('live');
    expect(state.audio?.contextState).toBe('running');
    expect(state.level.maxRmsDbfs).toBeGreaterThan(-40);
    await waitForConsole(page, (s) => s.level.rmsDbfs > -35, 10_000); // a screenshot mid-word
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: `${OUTPUT_DIR}demo.png`, fullPage: true });
    await page.close();
  }, 45_000);
});
