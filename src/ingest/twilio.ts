import { AppError } from '../domain/app-error.js';
import type { PlatformParser, StreamEvent, WireFormat } from './platform-stream.js';
import type { TwilioMediaFormat } from './twilio-event.js';
import { TwilioMediaStreamParser } from './twilio-media-stream.js';

const NOTHING: readonly StreamEvent[] = Object.freeze([]);
const MULAW_8K: WireFormat = Object.freeze({ encoding: 'mulaw', sampleRateHz: 8000 });

/**
 * Twilio Media Streams (and SignalWire's compatible `<Stream>`) as an ingest adapter: the
 * validating parser of twilio-media-stream.ts, its events said in the adapters' one vocabulary.
 * The call is `customParameters.call_id` or else the CallSid; the credential is
 * `customParameters.token` (or `?token=` on the URL, read by the endpoint); `stop` ends the call.
 */
export function createTwilioParser(): PlatformParser {
  const parser = new TwilioMediaStreamParser();
  return {
    parse(data, isBinary) {
      let event: ReturnType<TwilioMediaStreamParser['parseFrame']>;
      try {
        event = parser.parseFrame(data, isBinary);
      } catch (err) {
        if (err instanceof AppError) return [{ type: 'error', error: err }];
        throw err;
      }
      switch (event.type) {
        case 'media':
          return [{ type: 'audio', participant: event.participant, payload: event.payload }];
        case 'start':
          return [
            {
              type: 'start',
              callId: event.callId,
              platformCallId: event.callSid,
              credential: event.token,
              participants: event.participants,
              interleaved: false,
              format: wireFormat(event.mediaFormat),
              from: null,
              to: null,
            },
          ];
        case 'stop':
          return [{ type: 'end', scope: 'call' }];
        case 'ignored':
          return [{ type: 'ignored', what: event.event }];
        default:
          return [{ type: 'ignored', what: event.type }];
      }
    },
    flush: () => NOTHING,
  };
}

function wireFormat(format: TwilioMediaFormat): WireFormat {
  if (format.encoding === 'audio/x-mulaw') return MULAW_8K;
  // SignalWire's L16: little-endian, as its FreeSWITCH-based media stack writes it (docs/platforms/twilio.md).
  return { encoding: 'pcm16', sampleRateHz: format.sampleRateHz };
}
