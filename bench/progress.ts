/**
 * One progress line on stderr, redrawn in place on a terminal (a line per step elsewhere, such as
 * CI logs): steps done of all, what runs now, and the time so far.
 */
export class Progress {
  readonly #total: number;
  readonly #started = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #label = 'starting';
  #timer: NodeJS.Timeout | undefined;

  constructor(total: number) {
    this.#total = Math.max(1, total);
    if (this.#tty) {
      this.#timer = setInterval(() => this.#draw(), 1000);
      this.#timer.unref();
    }
  }

  /** A new step starts; the previous one is done. */
  step(label: string): void {
    if (this.#label !== 'starting') this.#done += 1;
    this.#label = label;
    if (this.#tty) this.#draw();
    else
      process.stderr.write(
        `bench [${this.#done + 1}/${this.#total}] ${label} (${this.#elapsed()})\n`,
      );
  }

  finish(): void {
    clearInterval(this.#timer);
    if (this.#tty) process.stderr.write('\r\x1b[2K');
  }

  #draw(): void {
    const width = 24;
    const filled = Math.round((this.#done / this.#total) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${bar} ${this.#done}/${this.#total} ${this.#elapsed()}  ${this.#label}`;
    const columns = process.stderr.columns ?? 100;
    process.stderr.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
  }

  #elapsed(): string {
    const s = Math.round((performance.now() - this.#started) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }
}
