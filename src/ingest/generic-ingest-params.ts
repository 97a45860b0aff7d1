import { AppError } from '../domain/app-error.js';
import {
  INGEST_ENCODINGS,
  INGEST_SAMPLE_RATES_HZ,
  type IngestEncoding,
  type IngestSampleRateHz,
} from '../domain/audio-format.js';
import { isValidParticipant } from '../domain/ids.js';
import { isJsonObject } from './json-field.js';

/** Channel counts accepted on generic ingest (2: interleaved, one participant per channel). */
export const INGEST_CHANNELS = [1, 2] as const;
export type IngestChannels = (typeof INGEST_CHANNELS)[number];

/** The wire format of the binary messages of one generic ingest connection. */
export interface IngestAudioFormat {
  readonly encoding: IngestEncoding;
  readonly sampleRateHz: IngestSampleRateHz;
  readonly channels: IngestChannels;
}

/** What a generic ingest connection carries: its format and one participant name per channel. */
export interface GenericIngestParams extends IngestAudioFormat {
  /** One name per channel, in channel order; distinct. */
  readonly participants: readonly string[];
}

/** The participants of a stereo connection that names none: the caller on the left, the agent on the right. */
const STEREO_DEFAULT_PARTICIPANTS = Object.freeze(['caller', 'agent']);

/** Defaults for omitted query parameters (`sample_rate` depends on the encoding: see below). */
const GENERIC_INGEST_DEFAULTS = Object.freeze({
  participant: 'caller',
  encoding: 'pcm16',
  channels: 1,
} as const);

/**
 * Default `sample_rate` for an encoding: 8000 Hz for G.711 (`mulaw`, `alaw`), which is telephony's
 * rate and practically never anything else; 16000 Hz for `pcm16`, earshot's canonical rate, so a
 * client that sends canonical audio needs no parameter and no resampling happens.
 */
export function defaultSampleRateHz(encoding: IngestEncoding): IngestSampleRateHz {
  return encoding === 'pcm16' ? 16_000 : 8000;
}

const encodings = new Map<string, IngestEncoding>(INGEST_ENCODINGS.map((e) => [e, e]));
const sampleRates = new Map<string, IngestSampleRateHz>(INGEST_SAMPLE_RATES_HZ.map((r) => [String(r), r]));
const channelCounts = new Map<string, IngestChannels>(INGEST_CHANNELS.map((c) => [String(c), c]));

/**
 * Parses and validates the query of `GET /ws/ingest/{call_id}?participant=…&encoding=…&sample_rate=…&channels=…`.
 *
 * - `encoding`: `pcm16` (signed 16-bit little-endian) | `mulaw` | `alaw`; default `pcm16`.
 * - `sample_rate`: 8000 | 16000 | 24000 | 32000 | 48000; default from {@link defaultSampleRateHz}.
 * - `channels`: 1 | 2; default 1.
 * - `participant`: one name when `channels=1` (default `caller`); exactly two distinct names
 *   `a,b` when `channels=2` (default `caller,agent`: a PBX's stereo puts the caller left). Names follow the
 *   participant pattern of `domain/ids.ts`.
 *
 * Values are matched exactly (no case folding, no `08000`), an empty value is an error (not the
 * default), and a parameter given twice is an error. Other parameters (e.g. `token`) are ignored.
 *
 * @throws AppError `VALIDATION_ERROR` (HTTP 400 at upgrade) whose message names the parameter and
 *   its allowed values.
 */
export function parseGenericIngestParams(query: URLSearchParams): GenericIngestParams {
  const encodingText = single(query, 'encoding');
  const encoding =
    encodingText === undefined ? GENERIC_INGEST_DEFAULTS.encoding : encodings.get(encodingText);
  if (encoding === undefined) throw invalid(`encoding must be one of ${INGEST_ENCODINGS.join(', ')}`);

  const rateText = single(query, 'sample_rate');
  const sampleRateHz = rateText === undefined ? defaultSampleRateHz(encoding) : sampleRates.get(rateText);
  if (sampleRateHz === undefined) {
    throw invalid(`sample_rate must be one of ${INGEST_SAMPLE_RATES_HZ.join(', ')}`);
  }

  const channelsText = single(query, 'channels');
  const channels =
    channelsText === undefined ? GENERIC_INGEST_DEFAULTS.channels : channelCounts.get(channelsText);
  if (channels === undefined) throw invalid('channels must be 1 or 2');

  const participants = parseParticipants(single(query, 'participant'), channels);
  return Object.freeze({ participants: Object.freeze(participants), encoding, sampleRateHz, channels });
}

/** jambonz's `mixType`: `stereo` is the caller on one channel and the other party on the other. */
const MIX_TYPE_CHANNELS: ReadonlyMap<unknown, IngestChannels> = new Map([
  ['mono', 1],
  ['mixed', 1],
  ['stereo', 2],
]);

/**
 * The format a PBX's first text message declares (SPEC §4.6): jambonz's `listen` sends JSON with
 * `sampleRate` (8000, 16000, …) and `mixType` (`mono`, `mixed`, `stereo`). What it declares is what
 * the binary messages that follow are, so it wins over the query (whose defaults the PBX's URL
 * often leaves in place); the encoding stays the query's (jambonz sends L16 LE, the default).
 * When the channel count changes, the participants are the defaults for the new count (`caller`;
 * `caller,agent`): the query's names were as many as its channels. Anything else in the metadata (mod_audio_fork's is
 * free-form) is ignored; a non-object changes nothing.
 *
 * @throws AppError `UNSUPPORTED_DATA` (close 1003) for a sampleRate or mixType earshot does not take.
 */
export function withPbxMetadata(params: GenericIngestParams, metadata: unknown): GenericIngestParams {
  if (!isJsonObject(metadata)) return params;
  const { sampleRate, mixType } = metadata;
  let { sampleRateHz, channels } = params;
  if (sampleRate !== undefined) {
    const declared = typeof sampleRate === 'number' ? sampleRates.get(String(sampleRate)) : undefined;
    if (declared === undefined)
      throw new AppError(
        'UNSUPPORTED_DATA',
        `metadata sampleRate must be one of ${INGEST_SAMPLE_RATES_HZ.join(', ')}`,
      );
    sampleRateHz = declared;
  }
  if (mixType !== undefined) {
    const declared = MIX_TYPE_CHANNELS.get(mixType);
    if (declared === undefined)
      throw new AppError('UNSUPPORTED_DATA', 'metadata mixType must be mono, mixed or stereo');
    channels = declared;
  }
  if (sampleRateHz === params.sampleRateHz && channels === params.channels) return params;
  const participants =
    channels === params.channels
      ? params.participants
      : Object.freeze(parseParticipants(undefined, channels));
  return Object.freeze({ ...params, participants, sampleRateHz, channels });
}

function parseParticipants(text: string | undefined, channels: IngestChannels): string[] {
  if (channels === 1) {
    const name = text ?? GENERIC_INGEST_DEFAULTS.participant;
    if (name.includes(','))
      throw invalid('participant must be one name when channels=1 (a,b needs channels=2)');
    checkName(name);
    return [name];
  }
  // Stereo from a PBX (FreeSWITCH's mod_audio_fork, jambonz): caller left, agent right (SPEC §4.6).
  if (text === undefined) return [...STEREO_DEFAULT_PARTICIPANTS];
  const names = text.split(',');
  if (names.length !== 2) throw invalid('participant must be two names a,b when channels=2');
  checkName(names[0]);
  checkName(names[1]);
  if (names[0] === names[1]) throw invalid('participant names must be distinct');
  return names;
}

function checkName(name: string): void {
  if (!isValidParticipant(name)) throw invalid('participant names must be 1-64 characters of [A-Za-z0-9_.-]');
}

/** The one value of `name`, undefined when absent; a repeated parameter is ambiguous, so an error. */
function single(query: URLSearchParams, name: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw invalid(`${name} must be given at most once`);
  return values[0];
}

function invalid(message: string): AppError {
  return new AppError('VALIDATION_ERROR', message);
}
