/**
 * Lab 13's slow readers: one per transport, each on the bare wire (no ChatClient, which would
 * reconnect by itself), each able to stop reading and to go on again. They keep every `seq` they
 * receive, in order, so that the lab can check the resume: every seq once, no gap.
 */
import { get as httpGet, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { TransportName } from '../../core/model.ts';

export interface SlowReader {
  readonly transport: TransportName;
  /** Every seq received, in the order received (a duplicate would show here). */
  readonly seqs: number[];
  /** Where a resume starts: the last seq received (long polling: the last answer's cursor). */
  readonly lastSeq: number;
  /** Subscribes from `after` (every stored event with a greater seq, then the live ones). */
  open(after: number): Promise<void>;
  /** Stops reading: the kernel's buffers fill, then the server's queue for it grows. */
  pause(): void;
  /**
   * Reads again. One that was cut off reads what the kernel kept for it, up to the end the server
   * gave it, then opens again from `lastSeq`; one that was not simply reads on. Resolves to
   * where it resumed from (the `after` it asked).
   */
  resume(cutOff: boolean): Promise<number>;
  close(): void;
}

/** A session of its own: the cookie `/api/me` sets (every reader is its own member). */
export async function sessionCookie(origin: string): Promise<string> {
  const response = await fetch(`${origin}/api/me`);
  await response.body?.cancel();
  return response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
}

export function slowReader(
  transport: TransportName,
  origin: string,
  cookie: string,
  room: string,
): SlowReader {
  switch (transport) {
    case 'polling':
      return new PollingReader(origin, cookie, room);
    case 'sse':
      return new SseReader(origin, cookie, room);
    case 'ws':
      return new WsReader(origin, cookie, room);
    case 'socketio':
      return new SocketIoReader(origin, cookie, room);
  }
}

/** What the three stream readers share: the seqs, and a connection that ends. */
abstract class StreamReader implements SlowReader {
  abstract readonly transport: TransportName;
  readonly seqs: number[] = [];
  lastSeq = 0;
  /** Settles when the current connection has ended. */
  protected ended: Promise<void> = Promise.resolve();

  abstract open(after: number): Promise<void>;
  abstract pause(): void;
  abstract close(): void;
  /** Reads again; the end of the connection (a cut-off) settles `ended`. */
  protected abstract readAgain(): void;

  protected received(seq: number): void {
    this.seqs.push(seq);
    this.lastSeq = seq;
  }

  async resume(cutOff: boolean): Promise<number> {
    this.readAgain();
    if (!cutOff) return this.lastSeq;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${this.transport}: no end in 10 s`)), 10_000);
    });
    await Promise.race([this.ended, late]).finally(() => clearTimeout(timer));
    const after = this.lastSeq;
    await this.open(after);
    return after;
  }
}

/** A reader over a WebSocket (raw ws, or engine.io's below Socket.IO): pausing it stops reading its socket. */
abstract class WebSocketReader extends StreamReader {
  #socket: WebSocket | undefined;
  readonly #url: string;
  readonly #cookie: string;

  constructor(url: string, cookie: string) {
    super();
    this.#url = url;
    this.#cookie = cookie;
  }

  /** A new socket with the session's cookie; its close settles `ended`. */
  protected connect(): WebSocket {
    const socket = new WebSocket(this.#url, { headers: { cookie: this.#cookie } });
    this.#socket = socket;
    socket.on('error', () => undefined);
    this.ended = new Promise((done) => socket.once('close', () => done()));
    return socket;
  }

  pause(): void {
    this.#socket?.pause();
  }

  protected readAgain(): void {
    this.#socket?.resume();
  }

  close(): void {
    this.#socket?.terminate();
  }
}

/** A raw WebSocket at /ws: `subscribe` with `after`, frames `{"type","id","data"}`. */
class WsReader extends WebSocketReader {
  readonly transport = 'ws' as const;
  readonly #room: string;

  constructor(origin: string, cookie: string, room: string) {
    super(`${origin.replace(/^http/, 'ws')}/ws`, cookie);
    this.#room = room;
  }

  open(after: number): Promise<void> {
    const socket = this.connect();
    return new Promise((done, fail) => {
      socket.once('open', () => {
        socket.send(JSON.stringify({ type: 'subscribe', room: this.#room, after }));
      });
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; id?: number };
        if (frame.type === 'subscribed') done();
        else if (frame.type === 'error') fail(new Error(`ws: ${String(data)}`));
        else if (typeof frame.id === 'number') this.received(frame.id);
      });
      socket.once('close', () => fail(new Error('ws: closed before subscribed')));
    });
  }
}

/**
 * A bare engine.io websocket at /socket.io/, below Socket.IO's client: the open packet `0`, the
 * namespace connect `40/chat,`, `join` with `{room, after}` and an acknowledgement (`42/chat,1`,
 * answered by `43/chat,1`), events `42/chat,["chat",{...}]`; it answers engine.io's pings
 * (`2`, with `3`) while it reads.
 */
class SocketIoReader extends WebSocketReader {
  readonly transport = 'socketio' as const;
  readonly #room: string;

  constructor(origin: string, cookie: string, room: string) {
    super(`${origin.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, cookie);
    this.#room = room;
  }

  open(after: number): Promise<void> {
    const socket = this.connect();
    return new Promise((done, fail) => {
      socket.on('message', (data) => {
        const packet = String(data);
        if (packet === '2') socket.send('3');
        else if (packet.startsWith('0')) socket.send('40/chat,');
        else if (packet.startsWith('40/chat,')) {
          socket.send(`42/chat,1${JSON.stringify(['join', { room: this.#room, after }])}`);
        } else if (packet.startsWith('43/chat,1')) {
          if (packet.includes('"ok":true')) done();
          else fail(new Error(`socketio: ${packet}`));
        } else if (packet.startsWith('42/chat,')) {
          const [, payload] = JSON.parse(packet.slice('42/chat,'.length)) as [
            string,
            { seq?: number },
          ];
          if (typeof payload?.seq === 'number') this.received(payload.seq);
        }
      });
      socket.once('close', () => fail(new Error('socketio: closed before joined')));
    });
  }
}

/** `GET /sse/room/:id?after=N`, read as it comes; pausing the response stops reading its socket. */
class SseReader extends StreamReader {
  readonly transport = 'sse' as const;
  #response: IncomingMessage | undefined;
  readonly #url: string;
  readonly #cookie: string;

  constructor(origin: string, cookie: string, room: string) {
    super();
    this.#url = `${origin}/sse/room/${room}`;
    this.#cookie = cookie;
  }

  open(after: number): Promise<void> {
    return new Promise((done, fail) => {
      const request = httpGet(`${this.#url}?after=${after}`, {
        headers: { cookie: this.#cookie, accept: 'text/event-stream' },
      });
      request.on('error', fail);
      request.on('response', (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          fail(new Error(`sse: ${response.statusCode}`));
          return;
        }
        this.#response = response;
        // A stream cut off ends without its last chunk: an error, after the data it brought.
        response.on('error', () => undefined);
        this.ended = new Promise((ended) => response.once('close', () => ended()));
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          let end = text.indexOf('\n\n');
          while (end !== -1) {
            const id = /^id: (\d+)$/m.exec(text.slice(0, end));
            if (id) this.received(Number(id[1]));
            text = text.slice(end + 2);
            end = text.indexOf('\n\n');
          }
        });
        done();
      });
    });
  }

  pause(): void {
    this.#response?.pause();
  }

  protected readAgain(): void {
    this.#response?.resume();
  }

  close(): void {
    this.#response?.destroy();
  }
}

/**
 * Long polling: polls `?after=cursor&wait=25` one after the other while it reads; paused, it
 * takes the answer of the poll in flight and polls no more. Nothing is connected meanwhile: the
 * server's seat buffers for it, up to one answer's worth.
 */
class PollingReader implements SlowReader {
  readonly transport = 'polling' as const;
  readonly seqs: number[] = [];
  lastSeq = 0;
  #polling = false;
  #closed = false;
  /** The loop of polls, settled once it has stopped (its last poll answered). */
  #looping: Promise<void> = Promise.resolve();
  readonly #url: string;
  readonly #cookie: string;
  #abort = new AbortController();

  constructor(origin: string, cookie: string, room: string) {
    this.#url = `${origin}/poll/room/${room}`;
    this.#cookie = cookie;
  }

  /** The first answer (wait=0: at once) makes it live; the loop goes on from its cursor. */
  async open(after: number): Promise<void> {
    this.lastSeq = after;
    await this.#poll(0);
    this.#start();
  }

  pause(): void {
    this.#polling = false;
  }

  async resume(): Promise<number> {
    if (this.#polling) return this.lastSeq;
    // The poll in flight when it paused first (one poll at a time), then what came while it did
    // not poll, one answer at a time, then the loop again.
    await this.#looping;
    const after = this.lastSeq;
    for (;;) {
      const before = this.lastSeq;
      const events = await this.#poll(0);
      if (events === 0 && this.lastSeq === before) break;
    }
    this.#start();
    return after;
  }

  close(): void {
    this.#closed = true;
    this.#polling = false;
    this.#abort.abort();
  }

  #start(): void {
    this.#polling = true;
    this.#looping = this.#loop();
  }

  async #loop(): Promise<void> {
    while (this.#polling && !this.#closed) {
      try {
        await this.#poll(25);
      } catch {
        if (this.#closed) return;
        await new Promise((done) => setTimeout(done, 250));
      }
    }
  }

  /** One poll from `lastSeq`; the number of events it brought. */
  async #poll(wait: number): Promise<number> {
    const response = await fetch(`${this.#url}?after=${this.lastSeq}&wait=${wait}`, {
      headers: { cookie: this.#cookie },
      signal: this.#abort.signal,
    });
    if (response.status !== 200) throw new Error(`polling: ${response.status}`);
    const answer = (await response.json()) as {
      events: { id?: number }[];
      cursor: number;
    };
    for (const event of answer.events) {
      if (typeof event.id === 'number') this.seqs.push(event.id);
    }
    this.lastSeq = answer.cursor;
    return answer.events.length;
  }
}
