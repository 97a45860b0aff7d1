import type { RawData } from 'ws';
import { AppError } from '../domain/app-error.js';
import type { Handshake, StreamEvent, StreamStart } from '../ingest/platform-stream.js';
import { platformNamed } from '../ingest/platforms.js';
import { IngestDecoder } from '../live/ingest-decoder.js';
import type { IngestTrack } from '../live/ingest-track.js';
import type { SocketGrant } from '../live/media-protocol.js';
import type { IngestSocket } from './close-sockets.js';
import { wsError } from './generic-ingest-endpoint.js';
import { failSocket, IngestSession } from './ingest-session.js';
import type { MediaDeps } from './media-deps.js';

/** What an admitted platform stream carries (the worker opens it with this). */
export type StreamSocketGrant = Omit<Extract<SocketGrant, { kind: 'stream' }>, 'kind'>;

/** Events held while the start's credential and call are being checked (~1 s of two tracks). */
const MAX_PENDING_EVENTS = 100;

/**
 * Every platform's stream (src/ingest/platforms.ts), one code path: the platform's parser turns each
 * message into events; the first `start` is authorized by the control plane — the credential from
 * the upgrade (`?token=`, the platform's header) or else the start's, the call id chosen explicitly
 * or else the platform's, the call created by an ingest key when it does not exist — and what
 * arrives meanwhile waits, in order, up to a bound. Audio is decoded from the start's format into
 * its participants' tracks; replies the protocol requires are sent back in order; the platform's
 * end completes the call or ends this stream's participants; an `error` event closes the socket
 * with its code (SPEC §4.3), touching nothing else.
 */
export function acceptPlatformStream(
  deps: MediaDeps,
  ws: IngestSocket,
  grant: StreamSocketGrant,
  handshake: Handshake,
  socketId?: number,
): void {
  const binding = platformNamed(grant.platform);
  if (!binding) {
    failSocket(deps, ws, new AppError('NOT_FOUND', 'No such platform'), grant.platform);
    return;
  }
  const parser = binding.parser(handshake);
  let session: IngestSession | null = null;
  let tracks: IngestTrack[] = [];
  /** Each participant's track, alone: what a (not interleaved) audio event of it feeds. */
  let byName = new Map<string, readonly IngestTrack[]>();
  let decoder: IngestDecoder | null = null;
  let interleaved = false;
  let pending: StreamEvent[] | null = null;
  let failed = false;

  const fail = (err: unknown) => {
    failed = true;
    if (session) session.fail(err);
    else failSocket(deps, ws, err, grant.platform);
  };

  const handle = (event: StreamEvent): void => {
    switch (event.type) {
      case 'audio': {
        if (!decoder) return;
        // Interleaved: one channel per track; otherwise the one participant the event names.
        const fed = interleaved
          ? tracks
          : event.participant === null
            ? undefined
            : byName.get(event.participant);
        if (fed !== undefined) decoder.feed(event.payload, fed);
        return;
      }
      case 'start':
        return void begin(event);
      case 'reply':
        if (ws.readyState === ws.OPEN) ws.send(event.text);
        return;
      case 'end': {
        if (!session) return;
        if (event.scope === 'participants') {
          session.endTracks();
          return;
        }
        const call = session.call;
        deps.control
          .completeCall(call)
          .catch((err) =>
            deps.logger.warn({ err, platform: grant.platform }, 'could not complete call on stop'),
          );
        return;
      }
      case 'error':
        fail(event.error);
        return;
      case 'ignored':
        return;
    }
  };

  const begin = async (start: StreamStart) => {
    pending = [];
    try {
      const { call, keyPrefix } = await deps.control.authorizeStream(
        grant.address,
        {
          platform: grant.platform,
          callId: grant.callId ?? start.callId,
          platformCallId: start.platformCallId,
          credential: grant.credential ?? start.credential,
          participants: start.participants,
          from: start.from,
          to: start.to,
        },
        socketId,
      );
      if (ws.readyState !== ws.OPEN) return;
      session = new IngestSession(deps, ws, call, { platform: grant.platform, keyPrefix });
      tracks = session.addTracks(start.participants, start.format);
      byName = new Map(tracks.map((t) => [t.name, [t]]));
      interleaved = start.interleaved;
      decoder = new IngestDecoder(start.format.encoding, interleaved && tracks.length === 2 ? 2 : 1);
      const held = pending;
      pending = null;
      for (const event of held) {
        if (failed || session.closed) return;
        handle(event);
      }
    } catch (err) {
      fail(err);
    }
  };

  const take = (events: readonly StreamEvent[]) => {
    for (const event of events) {
      if (failed || session?.closed) return;
      if (pending === null) handle(event);
      else if (event.type === 'error') fail(event.error);
      else if (pending.length >= MAX_PENDING_EVENTS)
        fail(new AppError('SERVICE_UNAVAILABLE', 'Call lookup too slow'));
      else pending.push(event);
    }
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (failed || session?.closed) return;
    take(parser.parse(data as Buffer, isBinary));
  });
  ws.on('close', () => {
    if (!failed && session && !session.closed) take(parser.flush());
  });
  ws.on('error', (err) => fail(wsError(err)));
}
