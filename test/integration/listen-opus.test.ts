import { describe, expect, it } from 'vitest';
import { OpusPacketDecoder } from '../../src/audio/opus.js';
import { createLiveCall } from '../helpers/live-call.js';
import { LISTENER_MODES, useLiveServer } from '../helpers/server.js';
import { toneLevelDb } from '../helpers/spectrum.js';
import { openListener, openSocket, sendPaced, toneChunks } from '../helpers/ws-clients.js';

/**
 * SPEC §3, `encoding=opus`: each message one Opus packet of `frame_ms`, at `sample_rate`, mono or
 * stereo — decoded here with libopus, the call's tones are at their pitch and level, for about a
 * tenth of PCM16's bytes.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(LISTENER_MODES.slice(0, 2))('%s: Opus listeners', (_mode, modeEnv) => {
  const live = useLiveServer(modeEnv);

  it.each([
    [16000, 1, 20],
    [48000, 2, 60],
    [8000, 1, 100],
  ] as const)(
    '%i Hz, %i channel(s), %i ms packets: the tones decoded at pitch and level',
    async (rate, channels, frameMs) => {
      const { ts, apiKey } = live;
      const call = await createLiveCall(ts, apiKey);
      const caller = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
      const agent = await openSocket(call.ingestUrl('participant=agent&encoding=pcm16&sample_rate=16000'));
      const options = `encoding=opus&sample_rate=${rate}&channels=${channels}&frame_ms=${frameMs}`;
      const opus = await openListener(await call.listenUrl(options));
      const pcm = await openListener(
        await call.listenUrl(`sample_rate=${rate}&channels=${channels}&frame_ms=${frameMs}`),
      );
      const t0 = performance.now();
      await Promise.all([
        sendPaced(caller, toneChunks(440, 16000, 2, 'pcm16'), 20, (c) => c),
        sendPaced(agent, toneChunks(1000, 16000, 2, 'pcm16'), 20, (c) => c),
      ]);
      await sleep(300);
      const seconds = (performance.now() - t0) / 1000;
      opus.ws.close();
      pcm.ws.close();
      caller.close();
      agent.close();
      const opusBytes = opus.binary.reduce((n, b) => n + b.length, 0);
      const pcmBytes = pcm.binary.reduce((n, b) => n + b.length, 0);
      console.log(
        `opus ${rate} Hz ×${channels} ${frameMs} ms: ${Math.round(opusBytes / seconds)} B/s per listener, PCM16 ${Math.round(pcmBytes / seconds)} B/s (× ${(opusBytes / pcmBytes).toFixed(3)})`,
      );
      expect(opus.binary.length).toBeGreaterThan((1.5 * 1000) / frameMs);
      expect(opusBytes / pcmBytes).toBeLessThan(0.15);
      // Decode every packet, in order, as a client would.
      const decoder = new OpusPacketDecoder(rate, channels);
      const decoded = opus.binary.map((packet) => decoder.decode(packet));
      const perPacket = (rate * frameMs) / 1000;
      expect(decoded.every((d) => d.length === perPacket * channels)).toBe(true);
      const all = new Int16Array(decoded.length * perPacket * channels);
      for (const [i, d] of decoded.entries()) all.set(d, i * perPacket * channels);
      const channel = (c: number) => {
        if (channels === 1) return all;
        const out = new Int16Array(all.length / 2);
        for (let i = 0; i < out.length; i++) out[i] = all[2 * i + c];
        return out;
      };
      // The loudest 0.5 s: caller (440 Hz) left or in the mix, agent (1 kHz) right or in the mix.
      const best = (signal: Int16Array, hz: number) => {
        let level = -Infinity;
        for (let i = 0; i + rate / 2 <= signal.length; i += rate / 10)
          level = Math.max(level, toneLevelDb(signal.subarray(i, i + rate / 2), rate, hz));
        return level;
      };
      if (channels === 1) {
        expect(Math.abs(best(all, 440) + 12)).toBeLessThan(3);
        expect(Math.abs(best(all, 1000) + 12)).toBeLessThan(3);
        return;
      }
      // Stereo: the first participant the room heard alone on the left, the other on the right.
      // (Which one is first depends on whose first frame arrived first: both orders are right.)
      const [left, right] = [channel(0), channel(1)];
      const [first, second] = best(left, 440) > best(left, 1000) ? [440, 1000] : [1000, 440];
      expect(Math.abs(best(left, first) + 12)).toBeLessThan(3);
      expect(Math.abs(best(right, second) + 12)).toBeLessThan(3);
      expect(best(left, second)).toBeLessThan(-30);
      expect(best(right, first)).toBeLessThan(-30);
    },
  );
});
