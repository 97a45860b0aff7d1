import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { sqliteBackend } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { openSocket } from '../helpers/ws-clients.js';
import { feed, turnTakingChunks } from './audio-feed.js';
import { browserProblem, launchBrowser, type TestBrowser } from './browser.js';

/**
 * A plain page, not the console: the JavaScript of Bland's live-listen docs example, as a customer
 * would paste it, pointed at the URL that POST /v1/calls/{id}/listen returned.
 */
function blandExamplePage(url: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>Bland live listen example</title>
<script>
  const samples = [];
  window.result = { samples, opened: false, closed: null };
  const ws = new WebSocket(${JSON.stringify(url)});
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { window.result.opened = true; };
  ws.onmessage = (e) => {
    const view = new DataView(e.data);
    for (let i = 0; i < e.data.byteLength / 2; i++) samples.push(view.getInt16(i * 2, true));
  };
  ws.onclose = (e) => { window.result.closed = { code: e.code, reason: e.reason }; };
</script>`;
}

describe.skipIf(browserProblem !== null)("Bland's live-listen example in Chromium", () => {
  let ts: TestServer;
  let browser: TestBrowser;
  let ingest: WebSocket | undefined;
  let feeding: Promise<void> | undefined;

  beforeAll(async () => {
    [ts, browser] = await Promise.all([startTestServer(sqliteBackend), launchBrowser()]);
  });
  afterAll(async () => {
    ingest?.close();
    await feeding;
    await browser?.close();
    await ts?.close();
  });

  it('receives ≥ 1 s of non-silent PCM16 and sees onclose when the call is stopped', async () => {
    const { apiKey } = await ts.createOrg({ liveListen: true });
    const created = await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: {} });
    const callId: string = created.body.data.call_id;
    ingest = await openSocket(`${created.body.data.ingest.url}&participant=caller`);
    feeding = feed(ingest, turnTakingChunks({ freqHz: 440, turn: 0, seconds: 20, turnMs: 500 }));

    const listen = await jsonRequest(ts, 'POST', `/v1/calls/${callId}/listen`, { apiKey });
    const page = await browser.context.newPage();
    await page.setContent(blandExamplePage(listen.body.data.url));

    // (Page code as strings: this project compiles without DOM types.)
    await page.waitForFunction('window.result.samples.length >= 24000', undefined, { timeout: 5000 });
    const received = await page.evaluate<{
      count: number;
      nonZero: number;
      opened: boolean;
      closed: unknown;
    }>(
      `(() => {
        const { samples, opened, closed } = window.result;
        return { count: samples.length, nonZero: samples.filter((s) => s !== 0).length, opened, closed };
      })()`,
    );
    expect(received.opened).toBe(true);
    expect(received.closed).toBeNull();
    expect(received.count).toBeGreaterThanOrEqual(16000);
    expect(received.count % 320).toBe(0); // whole 20 ms messages
    expect(received.nonZero).toBeGreaterThan(received.count / 10);

    await jsonRequest(ts, 'POST', `/v1/calls/${callId}/stop`, { apiKey });
    await page.waitForFunction('window.result.closed !== null', undefined, { timeout: 2000 });
    expect(await page.evaluate('window.result.closed')).toEqual({ code: 1000, reason: 'call ended' });
    await page.close();
  });
});
