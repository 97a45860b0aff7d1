import { mixMono } from '../audio/mixer.js';
import { TrackBuffer, TrackPull } from '../audio/track-buffer.js';
import { VoiceActivity } from '../audio/voice-activity.js';
import type { NodeHeardStats } from '../bus/bus.js';
import { FRAME_MS, FRAME_SAMPLES, type TrackFrame } from '../domain/audio-format.js';
import type { DirectWriteBatch } from './direct-write.js';
import { type ListenerSink, type SendCounts, sendToAll } from './listener.js';
import { formatKey } from './listener-options.js';
import { OutputGroup } from './output-group.js';

/** A track that has played nothing for this many ticks (10 s) is forgotten. */
const FORGET_IDLE_TICKS = 500;

interface RoomTrack {
  readonly name: string;
  readonly buffer: TrackBuffer;
  readonly out: Int16Array;
  idleTicks: number;
  /** Who is speaking, for `events=1` listeners (run only while the room has one). */
  readonly voice: VoiceActivity;
}

export interface RoomOptions {
  /** The process's direct-write batch, or null (the default) to write through each socket. */
  readonly batch?: DirectWriteBatch | null;
  /** libopus complexity (0–10) of the room's Opus encoders; default OPUS_COMPLEXITY. */
  readonly opusComplexity?: number;
}

/**
 * The mixing point of one call on one node, alive while the node has listeners for the call:
 * a jitter buffer per participant, the mix, and the listeners grouped by output format.
 * `tick()` runs every 20 ms on the process clock.
 */
export class CallRoom {
  readonly callPk: string;
  /** Insertion order is join order: the first track is the left channel of stereo listeners. */
  readonly #tracks = new Map<string, RoomTrack>();
  readonly #groups = new Map<string, OutputGroup>();
  readonly #inputs: Int16Array[] = [];
  readonly #rightInputs: Int16Array[] = [];
  readonly #mono = new Int16Array(FRAME_SAMPLES);
  readonly #left = new Int16Array(FRAME_SAMPLES);
  readonly #right = new Int16Array(FRAME_SAMPLES);
  #stereoGroups = 0;
  #listeners = 0;
  /** Listeners that asked for events (`events=1`): while there are none, nobody runs voice activity. */
  #eventListeners = 0;
  readonly #batch: DirectWriteBatch | null;
  readonly #opusComplexity: number | undefined;

  constructor(callPk: string, options: RoomOptions = {}) {
    this.callPk = callPk;
    this.#batch = options.batch ?? null;
    this.#opusComplexity = options.opusComplexity;
  }

  get listenerCount(): number {
    return this.#listeners;
  }

  addListener(listener: ListenerSink): void {
    const key = formatKey(listener.format);
    let group = this.#groups.get(key);
    if (!group) {
      this.#groups.set(key, (group = new OutputGroup(listener.format, this.#opusComplexity)));
      if (listener.format.channels === 2) this.#stereoGroups++;
    }
    group.listeners.add(listener);
    this.#listeners++;
    if (listener.format.events) {
      this.#eventListeners++;
      // It joins a conversation already going: who is speaking now.
      for (const track of this.#tracks.values())
        if (track.voice.speaking) listener.sendEvent({ type: 'speaking', name: track.name, state: 'start' });
    }
  }

  /** Returns the number of listeners left. */
  removeListener(listener: ListenerSink): number {
    const key = formatKey(listener.format);
    const group = this.#groups.get(key);
    if (group?.listeners.delete(listener)) {
      this.#listeners--;
      if (listener.format.events) this.#eventListeners--;
      if (group.listeners.size === 0) {
        this.#groups.delete(key);
        if (listener.format.channels === 2) this.#stereoGroups--;
      }
    }
    return this.#listeners;
  }

  /** Takes one participant frame from the bus (its samples are copied into the jitter buffer). */
  onFrame(frame: TrackFrame): void {
    let track = this.#tracks.get(frame.participant);
    if (!track) {
      track = {
        name: frame.participant,
        buffer: new TrackBuffer(),
        out: new Int16Array(FRAME_SAMPLES),
        idleTicks: 0,
        voice: new VoiceActivity(),
      };
      this.#tracks.set(frame.participant, track);
    }
    track.buffer.push(frame.seq, frame.samples);
  }

  /**
   * A participant's stream starts over (it joined, possibly taking over from another connection):
   * what its jitter buffer holds of the previous stream is dropped, so the new one (seq from 0)
   * plays at once instead of waiting behind it. Its place in the join order is kept.
   */
  restartTrack(name: string): void {
    this.#tracks.get(name)?.buffer.reset();
  }

  /**
   * A participant left: its jitter buffer plays out what it holds, then the track falls idle
   * without the empty slots after its last frame counting as lost or being concealed. A rejoin
   * (a new stream, seq from 0) plays as a new stream.
   */
  endTrack(name: string): void {
    this.#tracks.get(name)?.buffer.end();
  }

  /** Jitter-buffer counters of a participant, if this room has heard it. */
  trackStats(name: string): { framesLate: number; framesLost: number } | undefined {
    return this.#tracks.get(name)?.buffer.stats;
  }

  /** Jitter-buffer counters of every participant this room hears (in join order). */
  heardStats(): NodeHeardStats[] {
    return [...this.#tracks.values()].map((t) => ({
      name: t.name,
      framesLate: t.buffer.stats.framesLate,
      framesLost: t.buffer.stats.framesLost,
      bufferMs: t.buffer.depthFrames * FRAME_MS,
    }));
  }

  /** Mixes one 20 ms tick and writes it to every listener. */
  tick(nowMs: number, result: SendCounts): void {
    let count = 0;
    let rightCount = 0;
    let index = 0;
    let leftActive = false;
    const voices = this.#eventListeners > 0;
    for (const track of this.#tracks.values()) {
      const pulled = track.buffer.pull(track.out);
      if (voices) this.#detectVoice(track, pulled === TrackPull.AUDIO || pulled === TrackPull.CONCEALED);
      if (pulled === TrackPull.IDLE) {
        if (++track.idleTicks > FORGET_IDLE_TICKS) this.#tracks.delete(track.name);
      } else {
        track.idleTicks = 0;
        this.#inputs[count++] = track.out;
        // First participant (in join order) on the left of stereo listeners, everyone else right.
        if (index === 0) leftActive = true;
        else this.#rightInputs[rightCount++] = track.out;
      }
      index++;
    }
    mixMono(this.#inputs, count, this.#mono);
    if (this.#stereoGroups > 0) {
      if (leftActive) this.#left.set(this.#inputs[0]);
      else this.#left.fill(0);
      mixMono(this.#rightInputs, rightCount, this.#right);
    }
    for (const group of this.#groups.values()) {
      const message = group.push(this.#mono, this.#left, this.#right);
      if (message !== null) sendToAll(group.listeners, message, nowMs, result, this.#batch);
    }
  }

  /** Tells `events=1` listeners when the track starts or stops speaking (src/audio/voice-activity.ts). */
  #detectVoice(track: RoomTrack, heard: boolean): void {
    const state = track.voice.update(heard ? track.out : null);
    if (state === null) return;
    const event = { type: 'speaking', name: track.name, state };
    this.forEachListener((listener) => listener.sendEvent(event));
  }

  forEachListener(fn: (listener: ListenerSink) => void): void {
    for (const group of this.#groups.values()) for (const listener of group.listeners) fn(listener);
  }
}
