/**
 * A crowd: rooms of virtual users on one server, each user a session (GET /api/me) and the
 * transport's own Node ChatClient (the one the pages use), with what Node lacks injected as
 * test/support/clients.ts does. The crowd counts every delivery: which message reached which user,
 * when, and whether a user saw a `seq` twice or going back.
 */
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import type { Message, TransportName } from '../core/model.ts';
import type { ChatClient } from '../transports/client.ts';
import { createClient } from '../transports/clients.ts';
import type { Deliveries } from './deliveries.ts';
import { cookieFetch } from './fetch.ts';

export interface CrowdSpec {
  baseUrl: string;
  transport: TransportName;
  rooms: number;
  usersPerRoom: number;
  /** The first `senders` users of each room send, in turn. */
  senders: number;
  /**
   * Every process of a cluster (PROTOCOL.md, Many processes), when there are several: user i of
   * each room has their session on the (i mod n)th and connects to it, so that the room's
   * subscribers are split evenly and its senders, sending in turn, post to each in turn. Rooms
   * are made on `baseUrl`.
   */
  spreadOver?: string[];
}

export interface VirtualUser {
  cookie: string;
  /** Who the session is; its colour may be another's too (PROTOCOL.md, Identity). */
  userId: string;
  user: string;
  client: ChatClient;
  room: CrowdRoom;
  /** The chat seqs this user received in the current phase, and the highest of all. */
  seqs: Set<number>;
  lastSeq: number;
}

export interface CrowdRoom {
  id: string;
  users: VirtualUser[];
}

/** How many sessions or connections are opened at once. */
const BATCH = 50;

export class Crowd {
  readonly spec: CrowdSpec;
  readonly rooms: CrowdRoom[] = [];
  /** The phase being counted; deliveries of other phases are ignored. */
  #deliveries: Deliveries | undefined;
  /** When a join, exit or members event last arrived (the join storm is over when it is quiet). */
  #lastActivity = performance.now();

  private constructor(spec: CrowdSpec) {
    this.spec = spec;
  }

  /** Creates the sessions and rooms and connects every user; resolves once all are live. */
  static async open(spec: CrowdSpec): Promise<Crowd> {
    const crowd = new Crowd(spec);
    await crowd.grow(spec.rooms);
    return crowd;
  }

  /** Adds `rooms` more rooms of `usersPerRoom` users, connected. */
  async grow(rooms: number): Promise<void> {
    const { baseUrl } = this.spec;
    const seats = await this.#sessions(rooms);
    const ids = await inBatches(rooms, (r) => createRoom(baseUrl, seats[r]![0]!.cookie));
    const added: VirtualUser[] = [];
    ids.forEach((id, r) => {
      const room: CrowdRoom = { id, users: [] };
      for (const [i, visitor] of seats[r]!.entries()) room.users.push(this.#user(room, i, visitor));
      this.rooms.push(room);
      added.push(...room.users);
    });
    for (let i = 0; i < added.length; i += BATCH) {
      await Promise.all(added.slice(i, i + BATCH).map((u) => u.client.connectRoom(u.room.id)));
    }
  }

  users(): VirtualUser[] {
    return this.rooms.flatMap((room) => room.users);
  }

  /**
   * Waits until every client is open and no membership event came for `quietMs` (the lab sends
   * `join` and `members` to every member on each join), or `maxMs`. Returns whether it settled.
   */
  async settle(quietMs = 500, maxMs = 120_000): Promise<boolean> {
    const deadline = performance.now() + maxMs;
    while (performance.now() < deadline) {
      const open = this.users().every((u) => u.client.state === 'open');
      if (open && performance.now() - this.#lastActivity >= quietMs) return true;
      await sleep(50);
    }
    return false;
  }

  /**
   * Counts the deliveries of a new phase (or none). A repeated `seq` is looked for within the
   * phase: the sets of seen seqs start empty, so they do not grow for the whole run.
   */
  count(deliveries: Deliveries | undefined): void {
    this.#deliveries = deliveries;
    for (const user of this.users()) user.seqs.clear();
  }

  close(): void {
    this.#deliveries = undefined;
    for (const user of this.users()) user.client.close();
  }

  /** Where user `i` of a room has their session and connection. */
  #urlOf(i: number): string {
    const { baseUrl, spreadOver } = this.spec;
    return spreadOver?.length ? spreadOver[i % spreadOver.length]! : baseUrl;
  }

  /** Sessions for `rooms` rooms, `usersPerRoom` each. */
  async #sessions(rooms: number): Promise<Session[][]> {
    const { usersPerRoom } = this.spec;
    const made = await inBatches(rooms * usersPerRoom, (i) =>
      session(this.#urlOf(i % usersPerRoom)),
    );
    return Array.from({ length: rooms }, (_, r) =>
      made.slice(r * usersPerRoom, (r + 1) * usersPerRoom),
    );
  }

  /** Members as the server counts them: every session is a user of its own. */
  members(): number {
    return this.rooms.reduce((sum, room) => sum + room.users.length, 0);
  }

  /** User `i` of `room`. */
  #user(room: CrowdRoom, i: number, { cookie, userId, user: colour }: Session): VirtualUser {
    const client = createClient(this.spec.transport, {
      baseUrl: this.#urlOf(i),
      cookie,
      EventSource,
      WebSocket,
      ...(this.spec.transport === 'polling' ? { fetch: cookieFetch(cookie) } : {}),
    });
    const user: VirtualUser = {
      cookie,
      userId,
      user: colour,
      client,
      room,
      seqs: new Set(),
      lastSeq: 0,
    };
    client.on('chat', (message) => this.#userOnChat(user, message));
    const active = () => {
      this.#lastActivity = performance.now();
    };
    for (const type of ['join', 'exit', 'owner', 'members', 'state'] as const)
      client.on(type, active);
    return user;
  }

  #userOnChat(user: VirtualUser, message: Message): void {
    const now = performance.now();
    let order: 'new' | 'duplicate' | 'back' = 'new';
    if (user.seqs.has(message.seq)) order = 'duplicate';
    else if (message.seq < user.lastSeq) order = 'back';
    user.seqs.add(message.seq);
    user.lastSeq = Math.max(user.lastSeq, message.seq);
    this.#deliveries?.receive(message.chat ?? '', order, now);
  }
}

interface Session {
  cookie: string;
  userId: string;
  user: string;
}

/** GET /api/me: a new session's cookie, userId and colour (a bare baseline gives no userId). */
export async function session(baseUrl: string): Promise<Session> {
  const response = await fetch(`${baseUrl}/api/me`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET /api/me answered ${response.status}`);
  const { user, userId } = (await response.json()) as { user: string; userId?: string };
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
  return { cookie, userId: userId ?? cookie, user };
}

/** POST /room as JSON, big enough for any scenario. */
async function createRoom(baseUrl: string, cookie: string): Promise<string> {
  const response = await fetch(`${baseUrl}/room`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ title: 'bench', max: 10_000 }),
  });
  if (response.status !== 201) {
    throw new Error(`POST /room answered ${response.status}: ${await response.text()}`);
  }
  return ((await response.json()) as { room: { id: string } }).room.id;
}

async function inBatches<T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch = Math.min(BATCH, count - i);
    made.push(...(await Promise.all(Array.from({ length: batch }, (_, j) => make(i + j)))));
  }
  return made;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
