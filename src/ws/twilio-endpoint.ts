import type { RawData, WebSocket } from 'ws';
import { decodeMulaw } from '../audio/g711.js';
import { AppError } from '../domain/app-error.js';
import type { TwilioEvent } from '../ingest/twilio-event.js';
import { TwilioMediaStreamParser } from '../ingest/twilio-media-stream.js';
import type { IngestTrack } from '../live/ingest-track.js';
import { wsError } from './generic-ingest-endpoint.js';
import { failSocket, IngestSession } from './ingest-session.js';
import type { MediaDeps } from './media-deps.js';

/** Messages held while the `start` event's token is being checked (~1 s of two tracks). */
const MAX_PENDING_MESSAGES = 100;

/**
 * GET /ws/twilio: the Twilio Media Streams protocol. The socket opens without credentials (Twilio
 * cannot send headers); the `start` event names the call and carries its ingest token. Media that
 * arrives while the token is being checked is held, in order, up to a bound.
 */
export function acceptTwilio(deps: MediaDeps, ws: WebSocket, address: string, socketId?: number): void {
  const parser = new TwilioMediaStreamParser();
  let session: IngestSession | null = null;
  let tracks = new Map<string, IngestTrack>();
  let pending: TwilioEvent[] | null = null;
  const samples = new Int16Array(8000);

  const handle = (event: TwilioEvent): void => {
    if (event.type === 'media') {
      const track = tracks.get(event.participant);
      if (!track) return;
      const n = decodeMulaw(event.payload, samples);
      track.write(samples.subarray(0, n));
    } else if (event.type === 'stop') {
      const call = session?.call;
      if (call) {
        deps.control
          .completeCall(call)
          .catch((err) => deps.logger.warn({ err }, 'could not complete call on Twilio stop'));
      }
    }
  };

  const start = async (event: Extract<TwilioEvent, { type: 'start' }>) => {
    pending = [];
    try {
      // The token arrives only now: its check counts like an upgrade's (failures per address).
      const { callId, token, participants } = event;
      const call = await deps.control.authorizeTwilio(address, { callId, token, participants }, socketId);
      if (ws.readyState !== ws.OPEN) return;
      session = new IngestSession(deps, ws, call);
      tracks = new Map(
        session
          .addTracks(event.participants, { encoding: 'mulaw', sampleRateHz: 8000 })
          .map((t) => [t.name, t]),
      );
      const held = pending;
      pending = null;
      for (const e of held) handle(e);
    } catch (err) {
      failSocket(deps, ws, err);
    }
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (session?.closed) return;
    try {
      const event = parser.parseFrame(data as Buffer, isBinary);
      if (event.type === 'start') void start(event);
      else if (pending !== null) {
        if (pending.length >= MAX_PENDING_MESSAGES)
          throw new AppError('SERVICE_UNAVAILABLE', 'Call lookup too slow');
        pending.push(event);
      } else handle(event);
    } catch (err) {
      if (session) session.fail(err);
      else failSocket(deps, ws, err);
    }
  });
  ws.on('error', (err) => (session ? session.fail(wsError(err)) : failSocket(deps, ws, wsError(err))));
}
