import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { sqliteBackend } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { openSocket } from '../helpers/ws-clients.js';
import { feed, turnTakingChunks } from './audio-feed.js';
import { browserProblem, consoleState, launchBrowser, type TestBrowser, waitForConsole } from './browser.js';

const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));
const CALL_ID = 'CA-console-e2e';

describe.skipIf(browserProblem !== null)('web console in Chromium', () => {
  let ts: TestServer;
  let browser: TestBrowser;
  let apiKey: string;
  const ingest: WebSocket[] = [];
  const feeding: Promise<void>[] = [];

  beforeAll(async () => {
    [ts, browser] = await Promise.all([startTestServer(sqliteBackend), launchBrowser()]);
    ({ apiKey } = await ts.createOrg({ liveListen: true, name: 'Console org' }));
    const created = await jsonRequest(ts, 'POST', '/v1/calls', {
      apiKey,
      body: { call_id: CALL_ID, from: '+15550100', to: '+15550199' },
    });
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: { call_id: 'CA-quiet' } });
    // Two participants taking turns, in real time, for as long as the test runs (started together so
    // that one's turn ends as the other's begins).
    const base: string = created.body.data.ingest.url;
    const participants = [
      { name: 'caller', freqHz: 440, turn: 0 },
      { name: 'agent', freqHz: 660, turn: 1 },
    ] as const;
    ingest.push(
      ...(await Promise.all(
        participants.map((p) => openSocket(`${base}&participant=${p.name}&encoding=pcm16&sample_rate=16000`)),
      )),
    );
    participants.forEach((p, i) => {
      feeding.push(feed(ingest[i], turnTakingChunks({ freqHz: p.freqHz, turn: p.turn, seconds: 40 })));
    });
  });

  afterAll(async () => {
    for (const ws of ingest) ws.close();
    await Promise.all(feeding);
    await browser?.close();
    await ts?.close();
  });

  async function openConsole(): Promise<{ page: Page; pageErrors: string[] }> {
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(`${ts.url}/`);
    return { page, pageErrors };
  }

  async function useKey(page: Page, key: string): Promise<void> {
    await page.getByLabel("Your organization's API key").fill(key);
    await page.getByRole('button', { name: 'Use key' }).click();
  }

  it('lists active calls live, plays one through the AudioWorklet with waveform and level, and stops', async () => {
    const { page, pageErrors } = await openConsole();
    await useKey(page, apiKey);

    // The key lives in sessionStorage only.
    const storage = await page.evaluate(
      "({ session: sessionStorage.getItem('earshot.apiKey'), local: localStorage.length, cookies: document.cookie })",
    );
    expect(storage).toEqual({ session: apiKey, local: 0, cookies: '' });

    const row = page.locator(`tr[data-call-id="${CALL_ID}"]`);
    await row.waitFor({ timeout: 5000 });
    await expect.poll(() => row.textContent()).toMatch(/caller connected/);
    expect(await row.textContent()).toMatch(/agent connected/);
    expect(await row.textContent()).toContain('+15550100 → +15550199');
    expect(await page.locator('tr[data-call-id="CA-quiet"]').textContent()).toContain('none yet');

    await row.getByRole('button', { name: `Listen to call ${CALL_ID}` }).click();
    // ≥ 1.5 s of audio consumed by the worklet, and the analyser saw the tones.
    await waitForConsole(
      page,
      (s) =>
        s.connection.state === 'live' && (s.audio?.playedSamples ?? 0) > 24000 && s.level.maxRmsDbfs > -40,
      10_000,
    );
    const live = await consoleState(page);
    expect(live.audio?.contextState).toBe('running');
    expect(live.audio?.receivedSamples).toBeGreaterThanOrEqual(live.audio?.playedSamples ?? Infinity);
    expect(live.level.maxRmsDbfs).toBeGreaterThan(-40);
    expect(live.level.maxRmsDbfs).toBeLessThan(-6);
    await expect.poll(() => page.locator('#conn-state').textContent()).toBe('Live');
    // Keyboard focus moved from the (now disabled) Listen button to Stop listening.
    expect(await page.evaluate('document.activeElement.id')).toBe('stop');
    // The next poll shows this page as a listener.
    await expect.poll(() => row.locator('td').nth(2).textContent(), { timeout: 5000 }).toBe('1');
    // Mixed for a listener now: each participant shows what its jitter buffer adds (buffer_ms).
    await expect.poll(() => row.textContent(), { timeout: 5000 }).toMatch(/caller connected \d+ ms delay/);
    expect(await row.textContent()).toMatch(/agent connected \d+ ms delay/);

    // Who is speaking: the two take turns (700 ms each), and the page names each in turn.
    await waitForConsole(page, (s) => s.speaking.heard.length === 2, 5000);
    expect((await consoleState(page)).speaking.heard.sort()).toEqual(['agent', 'caller']);
    await expect
      .poll(() => page.locator('#speaking').textContent(), { timeout: 3000 })
      .toMatch(/^(caller|agent)$/);

    // Screenshot mid-word (turns alternate, with a short pause between them).
    await waitForConsole(page, (s) => s.level.rmsDbfs > -30);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: `${OUTPUT_DIR}console.png`, fullPage: true });

    await page.getByRole('button', { name: 'Stop listening' }).click();
    await waitForConsole(page, (s) => s.connection.state === 'ended');
    expect((await consoleState(page)).connection.code).toBe(1000);
    expect(await page.locator('#events').textContent()).toContain('Stopped.');
    expect(await page.evaluate("document.activeElement.getAttribute('aria-label')")).toBe(
      `Listen to call ${CALL_ID}`,
    );

    // Listening again, then the call ends: the page shows the server's close and the list drops it.
    await row.getByRole('button', { name: `Listen to call ${CALL_ID}` }).click();
    await waitForConsole(page, (s) => (s.audio?.playedSamples ?? 0) > 8000, 10_000);
    await jsonRequest(ts, 'POST', `/v1/calls/${CALL_ID}/stop`, { apiKey });
    const ended = await waitForConsole(page, (s) => s.connection.state === 'ended', 3000);
    expect(ended.connection).toMatchObject({ code: 1000, reason: 'call ended' });
    expect(await page.locator('#conn-state').textContent()).toBe('Ended · 1000 call ended');
    expect(await page.locator('#events').textContent()).toContain('The call ended.');
    await row.waitFor({ state: 'detached', timeout: 5000 });

    expect(pageErrors).toEqual([]);
    await page.close();
  }, 45_000);

  it('shows API errors in words: unknown key, live listen disabled, server unreachable', async () => {
    const { page } = await openConsole();
    await useKey(page, 'esk_this-key-does-not-exist');
    await expect.poll(() => page.locator('#calls-error').textContent()).toMatch(/^API key not recognised/);

    const other = await ts.createOrg({ liveListen: false, name: 'No listen org' });
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey: other.apiKey, body: { call_id: 'CA-no-listen' } });
    await page.getByRole('button', { name: 'Forget key' }).click();
    expect(await page.evaluate("sessionStorage.getItem('earshot.apiKey')")).toBeNull();
    await useKey(page, other.apiKey);
    await page.getByRole('button', { name: 'Listen to call CA-no-listen' }).click();
    await expect
      .poll(() => page.locator('#listen-error').textContent())
      .toMatch(/^Live listen is disabled for this organization/);
    expect(await page.locator('#calls-error').textContent()).toBe('');

    await page.route('**/v1/calls?*', (route) => route.abort('internetdisconnected'));
    await expect
      .poll(() => page.locator('#calls-error').textContent(), { timeout: 5000 })
      .toMatch(/^Cannot reach the earshot server/);
    await page.screenshot({ path: `${OUTPUT_DIR}console-errors.png`, fullPage: true });
    await page.close();
  });
});
