/**
 * The load generator: a child process of bench/run.ts (pinned to the other core than the server)
 * that holds one crowd of virtual users and runs the runner's jobs, one at a time, over IPC. The
 * sender and every receiver of a room live here, so latency is read on one clock. Also usable
 * in-process (bench.test.ts) through `LoadGenerator`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import autocannon, { type Result as CannonResult } from 'autocannon';
import { Crowd, type CrowdRoom, type CrowdSpec, sleep } from './crowd.ts';
import { Deliveries, type DeliveryReport } from './deliveries.ts';
import { newHistogram, percentiles, recordMs } from './metrics.ts';

export interface PhaseOptions {
  durationMs: number;
  /** How long after the last send to wait for deliveries still due (then they count as lost). */
  graceMs: number;
  textLength: number;
}

export type Job =
  | { type: 'open'; spec: CrowdSpec }
  /** Adds rooms (of the spec's size) to the open crowd. */
  | { type: 'grow'; rooms: number }
  | { type: 'settle'; quietMs: number; maxMs: number }
  /** Open loop: each room sends `ratePerRoom` messages/s at fixed times, whatever the answers. */
  | ({ type: 'openLoop'; ratePerRoom: number } & PhaseOptions)
  /** Closed loop: every sender of the first room sends its next message once the last is acknowledged. */
  | ({ type: 'closedLoop' } & PhaseOptions)
  /** autocannon on POST /room/:id/chat of the first room, with its first user's cookie. */
  | ({ type: 'post'; connections: number } & PhaseOptions)
  | { type: 'close' };

export interface PhaseReport extends DeliveryReport {
  windowMs: number;
  /** Acknowledged sends per second of the window. */
  sendsPerS: number;
  /** Share of one core the load process used, in %: near 100 means the load, not the server, set the pace. */
  loadCpuPercent: number;
  loopDelayP99Ms: number;
}

export class LoadGenerator {
  #crowd: Crowd | undefined;
  #phases = 0;

  async run(job: Job): Promise<unknown> {
    switch (job.type) {
      case 'open':
        this.#crowd?.close();
        this.#crowd = await Crowd.open(job.spec);
        return { users: this.#crowd.users().length, members: this.#crowd.members() };
      case 'grow':
        await this.#need().grow(job.rooms);
        return { users: this.#need().users().length, members: this.#need().members() };
      case 'settle':
        return { settled: await this.#need().settle(job.quietMs, job.maxMs) };
      case 'openLoop':
        return this.#phase(job, (deliveries) => this.#openLoop(deliveries, job));
      case 'closedLoop':
        return this.#phase(job, (deliveries) => this.#closedLoop(deliveries, job));
      case 'post':
        return this.#phase(job, (deliveries) => this.#post(deliveries, job));
      case 'close':
        this.#crowd?.close();
        this.#crowd = undefined;
        return {};
    }
  }

  #need(): Crowd {
    if (!this.#crowd) throw new Error('no crowd: open one first');
    return this.#crowd;
  }

  /** Counts one phase: sends with `send`, then waits out the grace; measures the load itself. */
  async #phase(
    options: PhaseOptions,
    send: (deliveries: Deliveries) => Promise<void>,
  ): Promise<PhaseReport> {
    const crowd = this.#need();
    this.#phases += 1;
    const deliveries = new Deliveries(`p${this.#phases}:`, options.textLength);
    crowd.count(deliveries);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const cpu = process.cpuUsage();
    const started = performance.now();
    await send(deliveries);
    const deadline = Math.max(started + options.durationMs, performance.now()) + options.graceMs;
    while (!deliveries.done() && performance.now() < deadline) await sleep(5);
    const used = process.cpuUsage(cpu);
    const elapsed = performance.now() - started;
    loop.disable();
    crowd.count(undefined);
    const report = deliveries.report();
    return {
      ...report,
      windowMs: options.durationMs,
      sendsPerS: ((report.sent - report.sendErrors) * 1000) / options.durationMs,
      loadCpuPercent: ((used.user + used.system) / 1000 / elapsed) * 100,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
    };
  }

  async #openLoop(deliveries: Deliveries, job: { ratePerRoom: number; durationMs: number }) {
    const rooms = this.#need().rooms;
    const perRoom = Math.max(1, Math.round((job.ratePerRoom * job.durationMs) / 1000));
    // Rooms are spread over each interval, so that they do not all send at the same instant.
    const plan: { at: number; room: CrowdRoom; k: number }[] = [];
    rooms.forEach((room, r) => {
      for (let k = 0; k < perRoom; k += 1) {
        plan.push({ at: ((k + r / rooms.length) / job.ratePerRoom) * 1000, room, k });
      }
    });
    plan.sort((a, b) => a.at - b.at);
    const senders = this.#need().spec.senders;
    const start = performance.now() + 5;
    const fire = ({ at, room, k }: (typeof plan)[number]) => {
      const sender = room.users[k % Math.min(senders, room.users.length)]!;
      const text = deliveries.schedule(start + at, room.users.length);
      sender.client.send(text).then(
        () => deliveries.settle(text, undefined, performance.now()),
        (error: unknown) => deliveries.settle(text, error ?? 'send failed', performance.now()),
      );
    };
    let next = 0;
    await new Promise<void>((done) => {
      const tick = () => {
        const now = performance.now();
        while (next < plan.length && start + plan[next]!.at <= now) fire(plan[next++]!);
        if (next >= plan.length) return done();
        setTimeout(tick, Math.max(0, start + plan[next]!.at - performance.now()));
      };
      setTimeout(tick, 5);
    });
  }

  async #closedLoop(deliveries: Deliveries, job: { durationMs: number }) {
    const room = this.#need().rooms[0]!;
    const senders = room.users.slice(0, this.#need().spec.senders);
    const end = performance.now() + job.durationMs;
    await Promise.all(
      senders.map(async (user) => {
        while (performance.now() < end) {
          const text = deliveries.schedule(performance.now(), room.users.length);
          try {
            await user.client.send(text);
            deliveries.settle(text, undefined, performance.now());
          } catch (error) {
            deliveries.settle(text, error ?? 'send failed', performance.now());
          }
        }
      }),
    );
  }

  async #post(deliveries: Deliveries, job: { durationMs: number; connections: number }) {
    const room = this.#need().rooms[0]!;
    const { baseUrl } = this.#need().spec;
    const ack = newHistogram();
    const result = await new Promise<CannonResult>((done, fail) => {
      const instance = autocannon(
        {
          url: `${baseUrl}/room/${room.id}/chat`,
          method: 'POST',
          headers: {
            cookie: room.users[0]!.cookie,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({
            chat: `${deliveries.tag}|post`.padEnd(deliveries.textLength, '.'),
          }),
          connections: job.connections,
          duration: job.durationMs / 1000,
        },
        (error, answer) => (error ? fail(error) : done(answer)),
      );
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        if (status === 201) recordMs(ack, ms);
      });
    });
    deliveries.expectUntimed(result['2xx'], room.users.length);
    deliveries.failUntimed(result.non2xx + result.errors);
    deliveries.ackMeasured(percentiles(ack));
  }
}

// As a child process: jobs in, answers out.
if (process.send) {
  const generator = new LoadGenerator();
  process.on('message', (message: { id: number; job: Job }) => {
    generator.run(message.job).then(
      (result) => process.send!({ id: message.id, ok: true, result }),
      (error: unknown) =>
        process.send!({
          id: message.id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}
