/**
 * Ingest clients of each family for the load generator (bench/ingest-families.mjs): what one call's
 * connection(s) send, as cheap as bench/lib/raw-ws.mjs's raw sockets — a hand-written handshake
 * (with the platform's headers), then pre-framed messages, nothing parsed on the way back.
 *
 *   generic    /ws/ingest/{call_id}?token=…&participant=…&encoding=mulaw&sample_rate=8000: two
 *              sockets per call, one 160-byte μ-law binary message per socket per 20 ms (what the
 *              rest of the bench sends)
 *   twilio     /ws/twilio: `connected`, `start` (callSid names the call, customParameters.token =
 *              an ingest key), then per 20 ms an `inbound` and an `outbound` `media` message (JSON
 *              text, 160 bytes of μ-law as 216 base64 characters), counters as Twilio counts them
 *   telnyx     /ws/telnyx: the same shape in Telnyx's words (the key in the
 *              x-telnyx-streaming-auth-token header, call_control_id names the call; chunks counted
 *              per track, which its parser reorders by)
 *   audiohook  /ws/audiohook: X-API-KEY = an ingest key without client secret (no signature),
 *              `open` offering PCMU stereo, then one 320-byte binary message per 20 ms (caller and
 *              agent μ-law interleaved byte by byte); the stream waits for `opened`
 *
 * Every family carries the same audio: the caller a 440 Hz tone, the agent 1000 Hz, at −20 dBFS.
 */
import { randomUUID } from 'node:crypto';
import { clientBinaryFrame } from './raw-ws.mjs';
import { toneMessages } from './signals.mjs';

export const FAMILIES = ['generic', 'twilio', 'telnyx', 'audiohook'];

/** What each family is in the report, and how many sockets one call opens. */
export const FAMILY_INFO = {
  generic: { label: 'generic binary PCM (μ-law)', connectionsPerCall: 2 },
  twilio: { label: 'Twilio (base64 JSON)', connectionsPerCall: 1 },
  telnyx: { label: 'Telnyx (base64 JSON)', connectionsPerCall: 1 },
  audiohook: { label: 'Genesys AudioHook (binary stereo μ-law)', connectionsPerCall: 1 },
};

const ORGANIZATION_ID = 'd7934305-0972-4844-938e-9060eef73d05';

const caller = toneMessages(440);
const agent = toneMessages(1000);
const callerFrames = caller.map(clientBinaryFrame);
const agentFrames = agent.map(clientBinaryFrame);
const callerB64 = caller.map((b) => b.toString('base64'));
const agentB64 = agent.map((b) => b.toString('base64'));
/** 50 stereo messages: caller (external) byte, agent (internal) byte, … */
const stereoFrames = caller.map((c, i) => {
  const out = Buffer.allocUnsafe(c.length * 2);
  for (let k = 0; k < c.length; k++) {
    out[2 * k] = c[k];
    out[2 * k + 1] = agent[i][k];
  }
  return clientBinaryFrame(out);
});

/** One client text message (FIN, text, masked with key 0) of an ASCII string under 64 KiB. */
export function textFrame(text) {
  const n = text.length;
  const lengthBytes = n < 126 ? 0 : 2;
  const header = 6 + lengthBytes;
  const frame = Buffer.allocUnsafe(header + n);
  frame[0] = 0x81;
  frame[1] = 0x80 | (lengthBytes ? 126 : n);
  if (lengthBytes) frame.writeUInt16BE(n, 2);
  frame.fill(0, 2 + lengthBytes, header);
  frame.latin1Write(text, header);
  return frame;
}

/** 32 hex digits, for SIDs. */
const hex32 = () => randomUUID().replaceAll('-', '');

/**
 * The connections of one call of `family`: [{ path, headers, preamble: [Buffer], waitForReply,
 * tick(i) → one Buffer or an array }] — `i` counts 20 ms periods from 0. `call` = { id, ingestPath }
 * (generic: a call created through the API, its ingest token in ingestPath; platforms: the call id
 * the platform names, created by the ingest key `key`).
 */
export function callConnections(family, call, key) {
  switch (family) {
    case 'generic':
      return ['caller', 'agent'].map((who) => ({
        path: `${call.ingestPath}&participant=${who}&encoding=mulaw&sample_rate=8000`,
        headers: {},
        preamble: [],
        waitForReply: false,
        tick: who === 'caller' ? (i) => callerFrames[i % 50] : (i) => agentFrames[i % 50],
      }));
    case 'twilio':
      return [twilioConnection(call.id, key)];
    case 'telnyx':
      return [telnyxConnection(call.id, key)];
    case 'audiohook':
      return [audiohookConnection(call.id, key)];
    default:
      throw new Error(`unknown family ${family}`);
  }
}

/** A call id as each platform would name it (what a platform-created call is called here). */
export function platformCallId(family, n) {
  const tail = String(n).padStart(6, '0');
  switch (family) {
    case 'twilio':
      return `CA${hex32().slice(0, 26)}${tail}`;
    case 'telnyx':
      return `v3:bench-${hex32()}-${tail}`;
    case 'audiohook':
      return randomUUID();
    default:
      throw new Error(`${family} calls are created through the API`);
  }
}

function twilioConnection(callSid, key) {
  const streamSid = `MZ${hex32()}`;
  let seq = 1;
  const start = {
    event: 'start',
    sequenceNumber: String(seq),
    start: {
      accountSid: 'ACd5c0c48b62d758acdcfb8e451e837b59',
      streamSid,
      callSid,
      tracks: ['inbound', 'outbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { token: key },
    },
    streamSid,
  };
  const media = (track, chunk, ts, payload) =>
    textFrame(
      `{"event":"media","sequenceNumber":"${++seq}","media":{"track":"${track}","chunk":"${chunk}",` +
        `"timestamp":"${ts}","payload":"${payload}"},"streamSid":"${streamSid}"}`,
    );
  return {
    path: '/ws/twilio',
    headers: {},
    preamble: [
      textFrame(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' })),
      textFrame(JSON.stringify(start)),
    ],
    waitForReply: false,
    // Twilio counts `chunk` over the connection (both tracks); earshot does not depend on it.
    tick: (i) => [
      media('inbound', 2 * i + 1, 20 * i, callerB64[i % 50]),
      media('outbound', 2 * i + 2, 20 * i, agentB64[i % 50]),
    ],
  };
}

function telnyxConnection(callControlId, key) {
  const streamId = randomUUID();
  let seq = 1;
  const start = {
    event: 'start',
    sequence_number: String(seq),
    stream_id: streamId,
    start: {
      user_id: '3e6f995f-85f7-4705-9741-53b116d28237',
      call_control_id: callControlId,
      call_session_id: randomUUID(),
      from: '+13122010094',
      to: '+13122123456',
      custom_parameters: {},
      media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
    },
  };
  // Chunks per track, from 1 (the parser reorders by them).
  const media = (track, chunk, ts, payload) =>
    textFrame(
      `{"event":"media","sequence_number":"${++seq}","media":{"track":"${track}","chunk":"${chunk}",` +
        `"timestamp":"${ts}","payload":"${payload}"},"stream_id":"${streamId}"}`,
    );
  return {
    path: '/ws/telnyx',
    headers: { 'x-telnyx-streaming-auth-token': key },
    preamble: [
      textFrame(
        JSON.stringify({
          event: 'connected',
          version: '1.0.0',
          connected: { 'x-telnyx-streaming-auth-token': key },
        }),
      ),
      textFrame(JSON.stringify(start)),
    ],
    waitForReply: false,
    tick: (i) => [
      media('inbound', i + 1, 20 * i, callerB64[i % 50]),
      media('outbound', i + 1, 20 * i, agentB64[i % 50]),
    ],
  };
}

function audiohookConnection(conversationId, key) {
  const sessionId = randomUUID();
  const open = {
    version: '2',
    id: sessionId,
    type: 'open',
    seq: 1,
    serverseq: 0,
    position: 'PT0S',
    parameters: {
      organizationId: ORGANIZATION_ID,
      conversationId,
      participant: { id: randomUUID(), ani: '+13175550123', aniName: 'Bench Caller', dnis: '+18005550100' },
      media: [
        { type: 'audio', format: 'PCMU', channels: ['external', 'internal'], rate: 8000 },
        { type: 'audio', format: 'PCMU', channels: ['external'], rate: 8000 },
      ],
      language: 'en-US',
    },
  };
  return {
    path: '/ws/audiohook',
    headers: {
      'User-Agent': 'GenesysCloud-AudioHook-Client',
      'Audiohook-Organization-Id': ORGANIZATION_ID,
      'Audiohook-Correlation-Id': randomUUID(),
      'Audiohook-Session-Id': sessionId,
      'X-API-KEY': key,
    },
    preamble: [textFrame(JSON.stringify(open))],
    // Genesys sends audio only once `opened` has come.
    waitForReply: true,
    tick: (i) => stereoFrames[i % 50],
  };
}
