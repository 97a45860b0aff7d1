import { describe, expect, it } from 'vitest';
import { ingest, type ListenItem, listen } from '../../src/client/index.js';
import { createLiveCall } from '../helpers/live-call.js';
import { LISTENER_MODES, useLiveServer } from '../helpers/server.js';
import { sine } from '../helpers/signals.js';

/**
 * SPEC §3, `events=1`: `{"type":"speaking","name":…,"state":"start|stop"}` per participant, from
 * the audio the server mixes (src/audio/voice-activity.ts). Two participants talk in turn; an
 * `events=1` listener hears each start and stop, in order and in time; a listener without events
 * gets none.
 */
describe.each(LISTENER_MODES.slice(0, 2))('%s: who is speaking', (_mode, modeEnv) => {
  const live = useLiveServer(modeEnv);

  it('caller then agent, each speaking 1 s: start and stop each, in turn, within 300 ms and 400–800 ms', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const url = await call.listenUrl();
    const listening = listen(url, { events: true });
    const plain = listen(await call.listenUrl());
    const [caller, agent] = await Promise.all([
      ingest(call.ingestUrl('x=1'), { participant: 'caller' }),
      ingest(call.ingestUrl('x=1'), { participant: 'agent' }),
    ]);
    const talk = sine({ freqHz: 300, sampleRateHz: 16000, length: 16000, amplitudeDbfs: -12 });
    const quiet = new Int16Array(16000);
    const t0 = Date.now();
    const script = (async () => {
      await Promise.all([caller.play(talk), agent.play(quiet)]);
      await Promise.all([caller.play(quiet), agent.play(talk)]);
      await Promise.all([caller.play(quiet), agent.play(quiet)]);
      await call.stop();
    })();
    const speaking: { name: string; state: string; atMs: number }[] = [];
    const plainItems: ListenItem[] = [];
    await Promise.all([
      (async () => {
        for await (const item of listening)
          if (item.type === 'speaking')
            speaking.push({ name: item.name, state: item.state, atMs: Date.now() - t0 });
      })(),
      (async () => {
        for await (const item of plain) plainItems.push(item);
      })(),
      script,
    ]);
    // The agent starts 60 ms into its turn, the caller stops 400 ms into its quiet: they overlap.
    expect(speaking.map(({ name, state }) => `${name} ${state}`)).toEqual([
      'caller start',
      'agent start',
      'caller stop',
      'agent stop',
    ]);
    // Latency through ingest, jitter buffer and the detector: start after 60 ms of voice, stop
    // after 400 ms of quiet (and a loaded machine's slack).
    const [callerStart, agentStart, callerStop, agentStop] = speaking.map((s) => s.atMs);
    console.log(`speaking events at ${speaking.map((s) => s.atMs).join(', ')} ms (talk 0–1000, 1000–2000)`);
    expect(callerStart).toBeLessThan(300);
    expect(callerStop - 1000).toBeGreaterThan(350);
    expect(callerStop - 1000).toBeLessThan(800);
    expect(agentStart - 1000).toBeLessThan(300);
    expect(agentStop - 2000).toBeLessThan(800);
    expect(plainItems.filter((i) => i.type !== 'frame')).toEqual([]);
  });
});
