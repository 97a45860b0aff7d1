/**
 * How far behind a listener's client is, from WebSocket pings used as markers in its stream.
 *
 * The kernel cannot tell: a client that stops reading, or reads at half speed, has its receive
 * buffer grow under autotuning (tcp_rmem allows MBs) while it acknowledges every byte, and a
 * half-speed reader that reads its buffer in large chunks keeps reopening its window — the window
 * probe (`UnreadProbe`) sees it seconds late or, reading at half speed, hardly ever. A ping written
 * between two audio messages is answered by the client's WebSocket stack only once it has read
 * everything written before it (RFC 6455 §5.5.2: a pong "as soon as practical"; browsers, `ws`
 * and every mainstream client do it on their own). So a ping that has been waiting `age` ms for its
 * pong means the client has not yet read `age` ms of the stream: less the round trip, that is its
 * backlog. The round trip is the least answer time of the last few pings.
 *
 * A client that never answered one of these pings (some raw clients do not) is not judged by them:
 * `lagMs` stays 0 and the kernel's view is all there is. One ping per `PING_EVERY_MS`, 4 bytes of
 * payload (the ping's number, so that keepalive pongs and unsolicited ones are told apart); at most
 * `MAX_PENDING` unanswered, the oldest of which keeps ageing.
 */
const PING_EVERY_MS = 1000;
const MAX_PENDING = 8;
/** Answer times kept for the round-trip estimate (their least). */
const RTT_SAMPLES = 5;
const PAYLOAD_BYTES = 4;

export class ReadProgress {
  /** Number of the next ping; pings nextSeq − pending … nextSeq − 1 await their pong. */
  #nextSeq = 0;
  #pending = 0;
  readonly #sentAtMs = new Float64Array(MAX_PENDING);
  #lastPingMs = Number.NEGATIVE_INFINITY;
  /** The newest ping answered since the last `lagMs`, whose answer time is not yet sampled (−1: none). */
  #answered = -1;
  readonly #rttMs = new Float64Array(RTT_SAMPLES).fill(Number.POSITIVE_INFINITY);
  #rttIndex = 0;
  #hasAnswered = false;

  /**
   * The payload of the ping to write now, if one is due at `nowMs`, else null. The caller writes
   * it in stream order (after every message already written for the client, before any later one).
   */
  ping(nowMs: number): Buffer | null {
    if (nowMs - this.#lastPingMs < PING_EVERY_MS || this.#pending === MAX_PENDING) return null;
    this.#lastPingMs = nowMs;
    const seq = this.#nextSeq;
    this.#nextSeq = (seq + 1) >>> 0;
    this.#sentAtMs[seq % MAX_PENDING] = nowMs;
    this.#pending++;
    const payload = Buffer.allocUnsafe(PAYLOAD_BYTES);
    payload.writeUInt32BE(seq);
    return payload;
  }

  /** A pong arrived: if it answers one of our pending pings, it and every earlier one are answered. */
  pong(payload: Buffer): void {
    if (payload.length !== PAYLOAD_BYTES || this.#pending === 0) return;
    const seq = payload.readUInt32BE(0);
    // How far back from the newest ping sent it is (0 = the newest); pongs of others are ignored.
    const back = (this.#nextSeq - 1 - seq) >>> 0;
    if (back >= this.#pending) return;
    this.#pending = back;
    this.#answered = seq;
    this.#hasAnswered = true;
  }

  /**
   * Milliseconds of the stream the client is known not to have read at `nowMs`, beyond the round
   * trip: 0 while nothing is pending, or until it has answered one ping.
   */
  lagMs(nowMs: number): number {
    if (this.#answered >= 0) {
      // Sampled at the first look after the pong: late by at most the time between two looks.
      this.#rttMs[this.#rttIndex] = nowMs - this.#sentAtMs[this.#answered % MAX_PENDING];
      this.#rttIndex = (this.#rttIndex + 1) % RTT_SAMPLES;
      this.#answered = -1;
    }
    if (!this.#hasAnswered || this.#pending === 0) return 0;
    const oldest = (this.#nextSeq - this.#pending) >>> 0;
    const age = nowMs - this.#sentAtMs[oldest % MAX_PENDING];
    let rtt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < RTT_SAMPLES; i++) rtt = Math.min(rtt, this.#rttMs[i]);
    return Math.max(0, age - rtt);
  }
}
