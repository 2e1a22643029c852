import { newHistogram, type Percentiles, percentiles, recordMs } from './metrics.ts';

/** What one phase delivered, as counted by the receiving clients. */
export interface DeliveryReport {
  sent: number;
  sendErrors: number;
  firstSendError: string | null;
  /** Deliveries due: each sent message times the users of its room (the sender included). */
  expected: number;
  /** Distinct deliveries received by the end of the grace. */
  delivered: number;
  lost: number;
  /** The same `seq` twice at one client. */
  duplicates: number;
  /** A `seq` lower than one the client already had. */
  outOfOrder: number;
  /** Scheduled time to arrival at each receiver, in ms. */
  latency: Percentiles | null;
  /** Scheduled time to the server's acknowledgement (POST answer, `sent` frame, Socket.IO ack). */
  ack: Percentiles | null;
}

const FILLER = ' the quick brown fox jumps over the lazy dog'.repeat(50);

/**
 * The deliveries of one phase. Each message's text starts with the phase's tag and its index, so
 * a receiver knows which message arrived and when it was scheduled: latency is measured from the
 * scheduled send time on the one clock of the load process (open loop: a slow server or a late
 * sender shows as latency, it cannot hide).
 */
export class Deliveries {
  readonly tag: string;
  readonly textLength: number;
  readonly #scheduled: number[] = [];
  readonly #latency = newHistogram();
  readonly #ack = newHistogram();
  sent = 0;
  settledSends = 0;
  sendErrors = 0;
  firstSendError: string | null = null;
  expected = 0;
  delivered = 0;
  duplicates = 0;
  outOfOrder = 0;
  #ackMeasured: Percentiles | null | undefined;

  constructor(tag: string, textLength: number) {
    this.tag = tag;
    this.textLength = textLength;
  }

  /** Registers a message to send at `scheduledAt` to `receivers` users; returns its text. */
  schedule(scheduledAt: number, receivers: number): string {
    const index = this.#scheduled.length;
    this.#scheduled.push(scheduledAt);
    this.sent += 1;
    this.expected += receivers;
    const head = `${this.tag}${index}|`;
    return head + FILLER.slice(0, Math.max(0, this.textLength - head.length));
  }

  /** A send was answered (or failed) at `now`. */
  settle(text: string, error: unknown, now: number): void {
    this.settledSends += 1;
    if (error !== undefined) {
      this.sendErrors += 1;
      this.firstSendError ??= error instanceof Error ? error.message : String(error);
      return;
    }
    const index = this.#indexOf(text);
    if (index !== undefined) recordMs(this.#ack, now - this.#scheduled[index]!);
  }

  /**
   * Messages sent by someone else (autocannon) with the same text `tag`: `count` of them, each
   * due to `receivers` users. They are counted, not timed.
   */
  expectUntimed(count: number, receivers: number): void {
    this.sent += count;
    this.settledSends += count;
    this.expected += count * receivers;
  }

  /** Sends by someone else that failed (non-2xx answers, socket errors): nothing is due. */
  failUntimed(count: number): void {
    this.sent += count;
    this.settledSends += count;
    this.sendErrors += count;
  }

  /** Acknowledgement latencies measured by someone else (autocannon). */
  ackMeasured(ack: Percentiles | null): void {
    this.#ackMeasured = ack;
  }

  receive(text: string, order: 'new' | 'duplicate' | 'back', now: number): void {
    if (!text.startsWith(this.tag)) return;
    if (order === 'duplicate') {
      this.duplicates += 1;
      return;
    }
    if (order === 'back') this.outOfOrder += 1;
    this.delivered += 1;
    const index = this.#indexOf(text);
    if (index !== undefined) recordMs(this.#latency, now - this.#scheduled[index]!);
  }

  /** Every due delivery arrived and every send was answered. */
  done(): boolean {
    return this.delivered >= this.expected && this.settledSends >= this.sent;
  }

  report(): DeliveryReport {
    return {
      sent: this.sent,
      sendErrors: this.sendErrors,
      firstSendError: this.firstSendError,
      expected: this.expected,
      delivered: this.delivered,
      lost: Math.max(0, this.expected - this.delivered),
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      latency: percentiles(this.#latency),
      ack: this.#ackMeasured === undefined ? percentiles(this.#ack) : this.#ackMeasured,
    };
  }

  #indexOf(text: string): number | undefined {
    const index = Number.parseInt(text.slice(this.tag.length), 10);
    return Number.isInteger(index) && index < this.#scheduled.length ? index : undefined;
  }
}
