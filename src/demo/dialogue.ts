import { readFileSync } from 'node:fs';
import { decodeWav } from '../audio/wav.js';

const CLIPS = new URL('../../assets/demo/', import.meta.url);
const TURN_GAP_SAMPLES = 16000 * 0.45;
const LINES = ['caller-1', 'agent-1', 'caller-2', 'agent-2', 'caller-3', 'agent-3', 'caller-4', 'agent-4'];

/**
 * The demo conversation as two continuous 16 kHz tracks of equal length: each participant's lines
 * where they speak and silence while the other does (so they take turns), ending in a pause.
 */
export function loadDialogue(): { caller: Int16Array; agent: Int16Array } {
  const clips = LINES.map((name) => ({
    who: name.split('-')[0],
    samples: decodeWav(readFileSync(new URL(`${name}.wav`, CLIPS))).samples,
  }));
  const total = clips.reduce((n, c) => n + c.samples.length + TURN_GAP_SAMPLES, 0) + 16000;
  const caller = new Int16Array(total);
  const agent = new Int16Array(total);
  let at = 0;
  for (const clip of clips) {
    (clip.who === 'caller' ? caller : agent).set(clip.samples, at);
    at += clip.samples.length + TURN_GAP_SAMPLES;
  }
  return { caller, agent };
}
