import { Type } from 'typebox';
import { ErrorCode } from '../domain/error-code.js';
import { CALL_ID_PATTERN, PARTICIPANT_PATTERN } from '../domain/ids.js';

/** Schemas of the HTTP API: they validate requests and document every route in the OpenAPI page. */

const CallStatus = Type.Union([Type.Literal('active'), Type.Literal('completed')]);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const ErrorEnvelope = Type.Object(
  {
    status: Type.Literal('error'),
    data: Type.Null(),
    errors: Type.Array(
      Type.Object({ code: Type.String({ enum: Object.keys(ErrorCode) }), message: Type.String() }),
    ),
  },
  { $id: 'ErrorEnvelope', description: 'Every error, with one of the codes listed in docs/api.md' },
);

export function successEnvelope<T extends Parameters<typeof Type.Object>[0][string]>(data: T) {
  return Type.Object({ status: Type.Literal('success'), data, errors: Type.Null() });
}

/** The error responses a route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorEnvelope')]));
}

export const CallIdParams = Type.Object({ call_id: Type.String({ description: 'The call id' }) });

export const CreateCallBody = Type.Object(
  {
    call_id: Type.Optional(
      Type.String({
        pattern: CALL_ID_PATTERN,
        description:
          'Your own id for the call (1–128 of A–Z a–z 0–9 _ . : -, not . or ..), e.g. a Twilio CallSid',
      }),
    ),
    from: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    to: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    metadata: Type.Optional(Nullable(Type.Object({}, { additionalProperties: true }))),
  },
  { additionalProperties: false },
);

export const ListCallsQuery = Type.Object(
  {
    status: Type.Optional(CallStatus),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

const Participant = Type.Object({
  name: Type.String(),
  platform: Type.String({ description: 'Where its audio comes from: generic, twilio, telnyx, …' }),
  encoding: Type.String(),
  sample_rate: Type.Integer(),
  connected: Type.Boolean(),
  frames_in: Type.Integer(),
  frames_late: Type.Integer(),
  frames_lost: Type.Integer(),
  buffer_ms: Type.Integer({
    description:
      'The delay its jitter buffer adds to what listeners hear now (ms, a multiple of 20; 0 while nobody listens)',
  }),
});

export const CallView = Type.Object(
  {
    call_id: Type.String(),
    status: CallStatus,
    created_at: Type.String({ format: 'date-time' }),
    ended_at: Nullable(Type.String({ format: 'date-time' })),
    from: Nullable(Type.String()),
    to: Nullable(Type.String()),
    metadata: Nullable(Type.Object({}, { additionalProperties: true })),
    participants: Type.Array(Participant),
    listeners: Type.Integer({ description: 'Listener sockets connected now' }),
  },
  { $id: 'Call' },
);

export const CreatedCall = Type.Object({
  call_id: Type.String(),
  status: CallStatus,
  created_at: Type.String({ format: 'date-time' }),
  ingest: Type.Object({
    token: Type.String({ description: 'Ingest token for this call (shown on every create)' }),
    url: Type.String({ description: 'Generic ingest WebSocket URL (add &participant=…&encoding=…)' }),
    twilio_url: Type.String({ description: 'Twilio Media Streams URL for <Stream url=…>' }),
  }),
});

export const StoppedCall = Type.Object({
  call_id: Type.String(),
  status: Type.Literal('completed'),
  ended_at: Type.String({ format: 'date-time' }),
});

export const ListenUrl = Type.Object({
  url: Type.String({ description: 'ws(s)://…/ws/listen/{call_id}?token=…' }),
});

export const RtpPortBody = Type.Object(
  {
    participant: Type.Optional(
      Type.String({
        pattern: PARTICIPANT_PATTERN,
        description: 'The participant the port carries (default caller)',
      }),
    ),
    format: Type.Union(
      [Type.Literal('ulaw'), Type.Literal('alaw'), Type.Literal('slin16'), Type.Literal('slin')],
      {
        description:
          'What the sender sends: ulaw (PT 0), alaw (PT 8), slin16 or slin (big-endian L16, 16 or 8 kHz)',
      },
    ),
  },
  { additionalProperties: false },
);

export const RtpPort = Type.Object({
  call_id: Type.String(),
  host: Type.String({ description: "This node's RTP address: send the participant's RTP here" }),
  port: Type.Integer({
    description:
      'The UDP port, held for this participant until the call ends or it idles (EARSHOT_RTP_IDLE_TIMEOUT_S, 30 s)',
  }),
  format: Type.String(),
  participant: Type.String(),
});

export const Preferences = Type.Object({ live_listen_enabled: Type.Boolean() });

export const PreferencesPatch = Type.Object(
  { live_listen_enabled: Type.Boolean() },
  { additionalProperties: false },
);

export const CreateOrgBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    live_listen_enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const CreateIngestKeyBody = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'A label, e.g. "Twilio production"' }),
    ),
    client_secret: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9+/]+={0,2}$',
        minLength: 16,
        maxLength: 256,
        description:
          "Genesys AudioHook only: the integration's client secret (base64); connections must then carry a valid signature",
      }),
    ),
  },
  { additionalProperties: false },
);

export const IngestKeyView = Type.Object({
  prefix: Type.String(),
  name: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Nullable(Type.String({ format: 'date-time' })),
});

export const CreatedIngestKey = Type.Object({
  ingest_key: Type.String({ description: 'Shown once: eik_…' }),
  prefix: Type.String(),
  name: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});
