import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import type { Message, TransportName } from '../../core/model.ts';
import {
  type ChatClient,
  type ClientEvents,
  LOBBY_EVENT_TYPES,
  ROOM_EVENT_TYPES,
} from '../../transports/client.ts';
import { createClient } from '../../transports/clients.ts';
import { eventually, type Session } from './http.ts';

/**
 * A transport's own Node client (the one the pages and the bench use) for a session, with what
 * Node lacks injected: the `eventsource` package's EventSource and the `ws` package's WebSocket.
 * Records every event it reports, in order.
 */
export function clientFor(
  transport: TransportName,
  baseUrl: string,
  session: Session,
  options: { language?: string } = {},
) {
  const client = createClient(transport, {
    baseUrl,
    cookie: session.cookie,
    EventSource,
    WebSocket,
    ...options,
  });
  return recorded(client);
}

/** Any ChatClient, recording every room and lobby event it reports (and its states), in order. */
export function recorded<C extends ChatClient>(client: C) {
  const events: { type: keyof ClientEvents; data: unknown }[] = [];
  for (const type of new Set([...ROOM_EVENT_TYPES, ...LOBBY_EVENT_TYPES])) {
    client.on(type, (data) => events.push({ type, data }));
  }
  return Object.assign(client, {
    events,
    /** The chat messages received, in arrival order. */
    chats: () => events.filter((e) => e.type === 'chat').map((e) => e.data as Message),
    /** Stored events (chat, join, exit, owner) received, as seqs in arrival order. */
    seqs: () =>
      events
        .filter((e) => ['chat', 'join', 'exit', 'owner'].includes(e.type))
        .map((e) => (e.data as Message).seq),
    waitFor: (check: () => boolean, what = 'events', ms = 8000) =>
      eventually(check, ms, `${client.transport}: ${what}`),
  });
}

export type TestClient = ReturnType<typeof clientFor>;

/**
 * Messages that keep coming: posts `n0`, `n1`, ... to `room` one after another until `stop()`,
 * while a test drops and cuts connections.
 */
export function keepPosting(session: Session, room: string) {
  let posted = 0;
  let posting = true;
  const poster = (async () => {
    for (; posting; posted++) await session.say(room, `n${posted}`);
  })();
  return {
    /** How many have been posted so far. */
    get posted() {
      return posted;
    },
    /** Waits until `count` more have been posted. */
    more(count: number, ms = 10_000): Promise<void> {
      const target = posted + count;
      return eventually(() => posted >= target, ms, `${count} more posts`);
    },
    /** Stops after the post in flight; resolves with how many were posted, `n0` to `n<count-1>`. */
    async stop(): Promise<number> {
      posting = false;
      await poster;
      return posted;
    },
  };
}
