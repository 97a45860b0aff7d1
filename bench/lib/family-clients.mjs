/**
 * Ingest clients of each family for the load generator (bench/ingest-families.mjs): what one call's
 * connection(s) send, as cheap as bench/lib/raw-ws.mjs's raw sockets — a hand-written handshake
 * (with the platform's headers), then pre-framed messages, nothing parsed on the way back.
 *
 *   generic    /ws/ingest/{call_id}?token=…&participant=…&encoding=mulaw&sample_rate=8000: two
 *              sockets per call, one 160-byte μ-law binary message per socket per 20 ms (what the
 *              rest of the bench sends)
 *   generic-stereo  the same endpoint, both participants on one socket: `participant=caller,agent&
 *              channels=2`, one 320-byte message (caller and agent μ-law interleaved) per 20 ms — how
 *              a client that holds both sides of a call (a PBX fork's stereo mix) sends it
 *   twilio     /ws/twilio: `connected`, `start` (callSid names the call, customParameters.token =
 *              an ingest key), then per 20 ms an `inbound` and an `outbound` `media` message (JSON
 *              text, 160 bytes of μ-law as 216 base64 characters), counters as Twilio counts them
 *   telnyx     /ws/telnyx: the same shape in Telnyx's words (the key in the
 *              x-telnyx-streaming-auth-token header, call_control_id names the call; chunks counted
 *              per track, which its parser reorders by)
 *   audiohook  /ws/audiohook: X-API-KEY = an ingest key without client secret (no signature),
 *              `open` offering PCMU stereo, then one 320-byte binary message per 20 ms (caller and
 *              agent μ-law interleaved byte by byte); the stream waits for `opened`
 *   audiosocket  Asterisk AudioSocket, plain TCP to EARSHOT_AUDIOSOCKET_LISTEN (no handshake; the
 *              server's EARSHOT_AUDIOSOCKET_INGEST_KEY places the call): a 0x01 frame with the 16
 *              bytes of the UUID that names the call, then one 0x10 frame (slin: PCM16
 *              little-endian, 8 kHz) of 320 bytes per 20 ms. An AudioSocket call has one
 *              participant, always `caller`: a second connection naming the same UUID would take it
 *              over, so a two-party call is measured as two AudioSocket calls (see FAMILY_INFO)
 *   rtp        RTP over UDP to the ports POST /v1/calls/{call_id}/rtp gave each participant of a
 *              call created through the API ({"format":"ulaw"}): per 20 ms one packet, a 12-byte
 *              header (version 2, payload type 0 PCMU, sequence number +1, timestamp +160, one SSRC
 *              per participant) and 160 bytes of μ-law, from one UDP socket per participant (the
 *              port latches the first source that sends to it)
 *
 * AudioSocket's and RTP's participants exist on the server only once their first audio came (the
 * AudioSocket start is announced with the first audio frame, an RTP port's participant joins with
 * its first packet), so their preamble carries the first 20 ms of audio and their ticks go on from
 * the next.
 *
 * Every family carries the same audio: the caller a 440 Hz tone, the agent 1000 Hz, at −20 dBFS
 * (AudioSocket's participants, all `caller`, the 440 Hz one).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { clientBinaryFrame } from './raw-ws.mjs';
import { toneMessages, tonePcm16Messages } from './signals.mjs';

export const FAMILIES = ['generic', 'generic-stereo', 'twilio', 'telnyx', 'audiohook', 'audiosocket', 'rtp'];

/**
 * What each family is in the report, how many connections (sockets; RTP: UDP ports) one two-party
 * call opens, and how many participants one call of the family's own carries: AudioSocket's one
 * (its participant is always `caller`), so that its two-party call is two AudioSocket calls — the
 * participant-frames, which the cost is per, are the same.
 */
export const FAMILY_INFO = {
  generic: { label: 'generic binary PCM (μ-law)', connectionsPerCall: 2, participantsPerCall: 2 },
  'generic-stereo': {
    label: 'generic binary PCM, stereo (μ-law, both participants on one socket)',
    connectionsPerCall: 1,
    participantsPerCall: 2,
  },
  twilio: { label: 'Twilio (base64 JSON)', connectionsPerCall: 1, participantsPerCall: 2 },
  telnyx: { label: 'Telnyx (base64 JSON)', connectionsPerCall: 1, participantsPerCall: 2 },
  audiohook: {
    label: 'Genesys AudioHook (binary stereo μ-law)',
    connectionsPerCall: 1,
    participantsPerCall: 2,
  },
  audiosocket: {
    label: 'Asterisk AudioSocket (TCP, slin 8 kHz; two one-party calls)',
    connectionsPerCall: 2,
    participantsPerCall: 1,
  },
  rtp: { label: 'RTP (UDP, PCMU)', connectionsPerCall: 2, participantsPerCall: 2 },
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

/** AudioSocket's frame kinds used here (Asterisk's res_audiosocket.h). */
const AUDIOSOCKET_UUID = 0x01;
const AUDIOSOCKET_SLIN = 0x10;

/** One AudioSocket frame: kind, payload length (big-endian, 2 bytes), payload. */
function audiosocketFrame(kind, payload) {
  const frame = Buffer.allocUnsafe(3 + payload.length);
  frame[0] = kind;
  frame.writeUInt16BE(payload.length, 1);
  payload.copy(frame, 3);
  return frame;
}

const callerSlinFrames = tonePcm16Messages(440).map((b) => audiosocketFrame(AUDIOSOCKET_SLIN, b));

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
 * The connections of one call of `family`: [{ transport, path, headers, port, preamble: [Buffer],
 * waitForReply, tick(i) → one Buffer or an array }] — `i` counts 20 ms periods from 0. `transport`
 * is 'ws' (an upgrade of `path` with `headers`), 'tcp' or 'udp' (to `port`, else the port the
 * load generator was given). `call` = { id, ingestPath, rtpPorts } (generic: a call created through
 * the API, its ingest token in ingestPath; rtp: one created through the API, rtpPorts = the caller's
 * and the agent's port; platforms: the call id the platform names, created by the ingest key `key`).
 */
export function callConnections(family, call, key) {
  switch (family) {
    case 'generic':
      return ['caller', 'agent'].map((who) => ({
        transport: 'ws',
        path: `${call.ingestPath}&participant=${who}&encoding=mulaw&sample_rate=8000`,
        headers: {},
        preamble: [],
        waitForReply: false,
        tick: who === 'caller' ? (i) => callerFrames[i % 50] : (i) => agentFrames[i % 50],
      }));
    case 'generic-stereo':
      return [
        {
          transport: 'ws',
          path: `${call.ingestPath}&participant=caller,agent&channels=2&encoding=mulaw&sample_rate=8000`,
          headers: {},
          preamble: [],
          waitForReply: false,
          tick: (i) => stereoFrames[i % 50],
        },
      ];
    case 'twilio':
      return [twilioConnection(call.id, key)];
    case 'telnyx':
      return [telnyxConnection(call.id, key)];
    case 'audiohook':
      return [audiohookConnection(call.id, key)];
    case 'audiosocket':
      return [audiosocketConnection(call.id)];
    case 'rtp':
      return [rtpConnection(call.rtpPorts[0], caller), rtpConnection(call.rtpPorts[1], agent)];
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
    case 'audiosocket':
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
    transport: 'ws',
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
    transport: 'ws',
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
    transport: 'ws',
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

/** AudioSocket: the UUID frame (the canonical form's 16 bytes), then slin audio; nothing comes back. */
function audiosocketConnection(uuid) {
  return {
    transport: 'tcp',
    preamble: [
      audiosocketFrame(AUDIOSOCKET_UUID, Buffer.from(uuid.replaceAll('-', ''), 'hex')),
      callerSlinFrames[0],
    ],
    waitForReply: false,
    tick: (i) => callerSlinFrames[(i + 1) % 50],
  };
}

/**
 * RTP to `port`: packets of the μ-law `payloads` (50, looping), sequence number and timestamp from
 * random starts (RFC 3550 §5.1) and wrapping. Each packet is a Buffer of its own: send() may read
 * it after it returns.
 */
function rtpConnection(port, payloads) {
  const seq0 = randomBytes(2).readUInt16BE(0);
  const ts0 = randomBytes(4).readUInt32BE(0);
  const ssrc = randomBytes(4).readUInt32BE(0);
  const packet = (n) => {
    const p = Buffer.allocUnsafe(12 + payloads[0].length);
    p[0] = 0x80; // version 2, no padding, extension or CSRC
    p[1] = 0; // no marker, payload type 0 (PCMU)
    p.writeUInt16BE((seq0 + n) & 0xffff, 2);
    p.writeUInt32BE((ts0 + 160 * n) % 2 ** 32, 4);
    p.writeUInt32BE(ssrc, 8);
    payloads[n % 50].copy(p, 12);
    return p;
  };
  return {
    transport: 'udp',
    port,
    preamble: [packet(0)],
    waitForReply: false,
    tick: (i) => packet(i + 1),
  };
}
