/**
 * A heartbeat spread over its period. Every member is beaten once per period, but the members take
 * turns in `SLICES` groups, so that a thousand connections do not get their ping in one burst that
 * holds up the messages behind it. engine.io gives every socket its own timer for the same reason;
 * one timer with a few groups does it for less.
 */
export class SpreadHeartbeat<T> {
  static readonly SLICES = 10;
  readonly #slices = Array.from({ length: SpreadHeartbeat.SLICES }, () => new Set<T>());
  readonly #timer: NodeJS.Timeout;
  #turn = 0;
  #next = 0;

  constructor(periodMs: number, beat: (member: T) => void) {
    this.#timer = setInterval(() => {
      const slice = this.#slices[this.#turn]!;
      this.#turn = (this.#turn + 1) % SpreadHeartbeat.SLICES;
      // A beat may remove its member (a dead peer is terminated): iterate over a copy.
      for (const member of [...slice]) beat(member);
    }, periodMs / SpreadHeartbeat.SLICES);
    this.#timer.unref();
  }

  add(member: T): void {
    const slice = this.#slices[this.#next]!;
    this.#next = (this.#next + 1) % SpreadHeartbeat.SLICES;
    slice.add(member);
  }

  /** Asks every slice: ten lookups cost less than a map from member to slice (~40 bytes each). */
  delete(member: T): void {
    for (const slice of this.#slices) if (slice.delete(member)) return;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
