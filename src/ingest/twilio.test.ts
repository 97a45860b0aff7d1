import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from './platform-stream.js';
import { createTwilioParser } from './twilio.js';

const SESSION = readFileSync(new URL('../../test/fixtures/twilio/session.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n');

const text = (s: string) => Buffer.from(s);

describe('createTwilioParser: Twilio Media Streams in the adapters’ vocabulary', () => {
  it('turns the recorded session into start, audio of both tracks, ignored dtmf/mark, and an end of the call', () => {
    const parser = createTwilioParser();
    const events = SESSION.flatMap((line) =>
      parser.parse(text(line.replace('{{call_id}}', 'call-1').replace('{{token}}', 'tok')), false),
    );
    expect(events[0]).toEqual({ type: 'ignored', what: 'connected' });
    expect(events[1]).toEqual({
      type: 'start',
      callId: 'call-1',
      platformCallId: 'CA810bad11af2855a52a2d2cf14e48e1f6',
      credential: 'tok',
      participants: ['caller', 'agent'],
      interleaved: false,
      format: { encoding: 'mulaw', sampleRateHz: 8000 },
      from: null,
      to: null,
    });
    const audio = events.filter((e) => e.type === 'audio');
    expect(audio).toHaveLength(300);
    expect(new Set(audio.map((e) => e.type === 'audio' && e.participant))).toEqual(
      new Set(['caller', 'agent']),
    );
    expect(audio.every((e) => e.type === 'audio' && e.payload.length === 160)).toBe(true);
    expect(events.filter((e) => e.type === 'ignored').map((e) => e.type === 'ignored' && e.what)).toEqual([
      'connected',
      'dtmf',
      'mark',
    ]);
    expect(events.at(-1)).toEqual({ type: 'end', scope: 'call' });
    expect(parser.flush()).toEqual([]);
  });

  it('leaves the call id to the CallSid and the credential to the URL when the parameters do not say', () => {
    const start = JSON.parse(SESSION[1]);
    start.start.customParameters = {};
    const [event] = createTwilioParser().parse(text(JSON.stringify(start)), false);
    expect(event).toMatchObject({ type: 'start', callId: null, credential: null });
  });

  it('says L16 for SignalWire, little-endian', () => {
    const start = JSON.parse(SESSION[1]);
    start.start.mediaFormat = { encoding: 'audio/x-l16', sampleRate: 16000, channels: 1 };
    start.start.customParameters = { token: 'tok' };
    const [event] = createTwilioParser().parse(text(JSON.stringify(start)), false);
    expect(event).toMatchObject({ type: 'start', format: { encoding: 'pcm16', sampleRateHz: 16000 } });
  });

  it('reports bad input as an error event with its code, never by throwing', () => {
    const parser = createTwilioParser();
    expect(parser.parse(text('{"event":'), false)).toEqual([
      { type: 'error', error: expect.objectContaining({ code: 'INVALID_PAYLOAD' }) },
    ]);
    expect(createTwilioParser().parse(Buffer.from([1, 2, 3]), true)).toEqual([
      { type: 'error', error: expect.objectContaining({ code: 'UNSUPPORTED_DATA' }) },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom(...SESSION.slice(0, 6))), { maxLength: 8 }),
        (messages) => {
          const p = createTwilioParser();
          for (const m of messages) {
            const events: readonly StreamEvent[] = p.parse(text(m), false);
            for (const e of events) expect(['start', 'audio', 'end', 'error', 'ignored']).toContain(e.type);
          }
        },
      ),
    );
  });
});
