import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { sqliteBackend } from '../helpers/databases.js';
import { createLiveCall, type LiveCall } from '../helpers/live-call.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpRelay } from '../helpers/tcp-relay.js';
import { openSocket, toneChunks } from '../helpers/ws-clients.js';
import { feed } from './audio-feed.js';
import { browserProblem, launchBrowser, pollUntil, type TestBrowser } from './browser.js';

/**
 * SPEC §6, `<earshot-player>`: a page of another origin that holds only the module script and the
 * element plays a live call — checked from the audio graph (the analyser after the jitter buffer
 * hears the call's tone at its pitch) — survives a network drop by reconnecting, and shows its
 * click-to-start control where the browser blocks autoplay.
 */
const TONE_HZ = 440;

interface PlayerView {
  state: string;
  stream: { encoding: string; sampleRate: number; bytes: number; messages: number } | null;
  needsGesture: boolean;
  gaps: { count: number; ms: number };
  peakHz: number;
  peakDb: number;
  rmsDbfs: number;
}

/** What the element says of itself, and the strongest frequency its analyser sees. (Page code as a string: no DOM types here.) */
function playerView(page: Page): Promise<PlayerView> {
  return page.evaluate(`(() => {
    const p = document.querySelector('earshot-player');
    const a = p.analyser;
    let peakHz = 0, peakDb = -Infinity;
    if (a) {
      const d = new Float32Array(a.frequencyBinCount);
      a.getFloatFrequencyData(d);
      let best = 1;
      for (let i = 2; i < d.length; i++) if (d[i] > d[best]) best = i;
      peakHz = (best * a.context.sampleRate) / a.fftSize;
      peakDb = d[best];
    }
    return { state: p.state, stream: p.stream, needsGesture: p.needsGesture, gaps: p.gaps, peakHz, peakDb, rmsDbfs: p.level.rmsDbfs };
  })()`);
}

function waitFor(page: Page, what: string, test: (v: PlayerView) => boolean, ms = 8000): Promise<PlayerView> {
  return pollUntil(() => playerView(page), test, `player never ${what}`, ms);
}

/** Live, and the analyser after the worklet hears the call's tone at its pitch. */
const playingTone = (v: PlayerView) => v.state === 'live' && Math.abs(v.peakHz - TONE_HZ) < 25;

/**
 * A customer's page, on an origin of its own (http://localhost:<another port>: a secure context, as
 * AudioWorklet requires, and not earshot's origin), that holds only the script and the element.
 */
async function pageWithPlayer(
  browser: TestBrowser,
  site: string,
  ts: TestServer,
  src: string,
  initScript?: string,
): Promise<Page> {
  const page = await browser.context.newPage();
  if (initScript) await page.addInitScript(initScript);
  const html = `<!doctype html><script type="module" src="${ts.url}/player.js"></script><earshot-player src="${src}"></earshot-player>`;
  await page.goto(`${site}/?page=${encodeURIComponent(html)}`);
  return page;
}

/** Serves `?page=` as the HTML of the page: a stand-in for a customer's web server. */
async function startCustomerSite(): Promise<{ url: string; close(): void }> {
  const server = createHttpServer((request, response) => {
    const html = new URL(request.url ?? '/', 'http://localhost').searchParams.get('page') ?? '';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const ENCODINGS = [
  { encoding: 'pcm16', query: '' },
  // Decoded with WebCodecs (Chromium's AudioDecoder gives 48 kHz whatever the stream's rate).
  { encoding: 'opus', query: 'encoding=opus' },
];

describe.skipIf(browserProblem !== null).each(ENCODINGS)(
  '<earshot-player> in Chromium, $encoding',
  ({ encoding, query }) => {
    let ts: TestServer;
    let browser: TestBrowser;
    let apiKey: string;
    let call: LiveCall;
    let caller: WebSocket;
    let feeding: Promise<void>;
    let site: { url: string; close(): void };

    beforeAll(async () => {
      [ts, browser, site] = await Promise.all([
        startTestServer(sqliteBackend),
        launchBrowser(),
        startCustomerSite(),
      ]);
      ({ apiKey } = await ts.createOrg({ liveListen: true }));
      call = await createLiveCall(ts, apiKey);
      caller = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
      feeding = feed(caller, toneChunks(TONE_HZ, 16000, 40, 'pcm16'));
    });
    afterAll(async () => {
      caller?.close();
      await feeding;
      await browser?.close();
      site?.close();
      await ts?.close();
    });

    it('plays the call from a page that holds only the element: its tone at its pitch after the worklet', async () => {
      const page = await pageWithPlayer(browser, site.url, ts, await call.listenUrl(query));
      const live = await waitFor(page, 'played the tone', playingTone);
      expect(live.needsGesture).toBe(false);
      expect(live.rmsDbfs).toBeGreaterThan(-30);
      expect(live.stream).toMatchObject({ encoding, sampleRate: 16000 });
      // What a second of it costs on the wire: PCM16 32,000 bytes; Opus (24 kb/s) about 3,000.
      const later = await new Promise<PlayerView>((resolve) =>
        setTimeout(() => resolve(playerView(page)), 1000),
      );
      const bytesPerSecond = (later.stream?.bytes ?? 0) - (live.stream?.bytes ?? 0);
      if (encoding === 'opus') expect(bytesPerSecond).toBeLessThan(6000);
      else expect(bytesPerSecond).toBeGreaterThan(25_000);
      // play() again, twice at once (a page's impatient button): it starts over, with one socket.
      await page.evaluate(
        `(() => { const p = document.querySelector('earshot-player'); p.play(); p.play(); })()`,
      );
      await waitFor(page, 'played again', playingTone);
      await expect
        .poll(
          async () => (await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey })).body.data.listeners,
          {
            timeout: 3000,
          },
        )
        .toBe(1);
      await page.close();
    });

    it.runIf(encoding === 'opus')(
      'Opus at the rate the URL asks (8 kHz stereo: played mono), at the right pitch',
      async () => {
        const page = await pageWithPlayer(
          browser,
          site.url,
          ts,
          await call.listenUrl('encoding=opus&sample_rate=8000&channels=2'),
        );
        const live = await waitFor(page, 'played the tone', playingTone);
        expect(live.stream).toMatchObject({ encoding: 'opus', sampleRate: 8000 });
        await page.close();
      },
    );

    it.runIf(encoding === 'opus')(
      'a browser without WebCodecs asks for 16 kHz PCM instead, and plays it',
      async () => {
        const page = await pageWithPlayer(
          browser,
          site.url,
          ts,
          await call.listenUrl(query),
          'delete window.AudioDecoder; delete window.EncodedAudioChunk;',
        );
        const live = await waitFor(page, 'played the tone', playingTone);
        expect(live.stream).toMatchObject({ encoding: 'pcm16', sampleRate: 16000 });
        await page.close();
      },
    );

    it('reconnects after a network drop, reporting the outage as a gap, and plays on', async () => {
      // A TCP relay between the page and the server: cutting its connections is the network failing.
      const relay = await startTcpRelay(ts.url);
      const url = new URL(await call.listenUrl(query));
      url.host = `127.0.0.1:${relay.port}`;
      const page = await pageWithPlayer(browser, site.url, ts, url.toString());
      const states: string[] = [];
      await page.exposeFunction('recordState', (s: string) => states.push(s));
      await page.evaluate(
        `document.querySelector('earshot-player').addEventListener('statechange', (e) => window.recordState(e.detail.state))`,
      );
      await waitFor(page, 'went live', playingTone);
      relay.cut();
      const back = await waitFor(page, 'came back', (v) => v.gaps.count === 1 && v.state === 'live');
      expect(back.gaps.ms).toBeGreaterThan(100);
      expect(back.gaps.ms).toBeLessThan(3000);
      expect(states).toEqual(['reconnecting', 'live']);
      await waitFor(page, 'played on', (v) => Math.abs(v.peakHz - TONE_HZ) < 25 && v.rmsDbfs > -30);
      await page.close();
      relay.close();
    });

    it('with a urlProvider: a revoked URL is replaced by a fresh one; the call ending ends it (1000)', async () => {
      const own = await createLiveCall(ts, apiKey);
      const ingest = await openSocket(own.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
      const feeding = feed(ingest, toneChunks(TONE_HZ, 16000, 20, 'pcm16'));
      const page = await browser.context.newPage();
      await page.goto(
        `${site.url}/?page=${encodeURIComponent(`<!doctype html><script type="module" src="${ts.url}/player.js"></script><earshot-player></earshot-player>`)}`,
      );
      // The page's provider hands out what the test mints (a customer's backend would call the API).
      await page.evaluate(`(async () => {
      await customElements.whenDefined('earshot-player');
      const p = document.querySelector('earshot-player');
      window.__states = [];
      p.addEventListener('statechange', (e) => window.__states.push([e.detail.state, e.detail.code]));
      window.__minted = 0;
      p.urlProvider = async () => {
        while (!window.__next) await new Promise((r) => setTimeout(r, 20));
        const url = window.__next;
        window.__next = null;
        window.__minted++;
        return url;
      };
    })()`);
      const handOut = async () =>
        page.evaluate(`window.__next = ${JSON.stringify(await own.listenUrl(query))}`);
      await handOut();
      await waitFor(page, 'went live', playingTone);
      // Every listen URL of the call revoked (4001): the provider is asked again.
      await jsonRequest(ts, 'DELETE', `/v1/calls/${own.id}/listen`, { apiKey });
      await waitFor(page, 'reconnecting', (v) => v.state === 'reconnecting');
      await handOut();
      await waitFor(page, 'came back', (v) => v.state === 'live' && v.gaps.count === 1);
      expect(await page.evaluate('window.__minted')).toBe(2);
      await own.stop();
      await waitFor(page, 'ended', (v) => v.state === 'ended');
      expect(await page.evaluate('window.__states')).toEqual([
        ['connecting', null],
        ['live', null],
        ['reconnecting', 4001],
        ['live', null],
        ['ended', 1000],
      ]);
      ingest.close();
      await feeding;
      await page.close();
    });

    it('where autoplay is blocked, shows its click-to-start control, and plays once clicked', async () => {
      const blocked = await launchBrowser({ blockAutoplay: true });
      try {
        const page = await pageWithPlayer(blocked, site.url, ts, await call.listenUrl(query));
        const waiting = await waitFor(page, 'asked for a click', (v) => v.needsGesture);
        expect(waiting.state).toBe('idle');
        await page.locator('earshot-player [part=start]').click();
        await waitFor(page, 'played after the click', playingTone);
        expect((await playerView(page)).needsGesture).toBe(false);
      } finally {
        await blocked.close();
      }
    });
  },
);
