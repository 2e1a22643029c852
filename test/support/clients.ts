import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import type { Message, TransportName } from '../../core/model.ts';
import type { ChatClient, ClientEvents } from '../../transports/client.ts';
import { createClient } from '../../transports/clients.ts';
import { eventually, type Session } from './http.ts';

/**
 * A transport's own Node client (the one the pages and the bench use) for a session, with what
 * Node lacks injected: the `eventsource` package's EventSource and the `ws` package's WebSocket.
 * Records every event it reports, in order.
 */
export function clientFor(transport: TransportName, baseUrl: string, session: Session) {
  const client = createClient(transport, {
    baseUrl,
    cookie: session.cookie,
    EventSource,
    WebSocket,
  });
  const events: { type: keyof ClientEvents; data: unknown }[] = [];
  const types = [
    'chat',
    'join',
    'exit',
    'owner',
    'members',
    'removeRoom',
    'kicked',
    'newRoom',
    'roomUpdate',
  ] as const;
  for (const type of types) client.on(type, (data) => events.push({ type, data }));
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
      eventually(check, ms, `${transport}: ${what}`),
  }) as ChatClient & {
    events: typeof events;
    chats: () => Message[];
    seqs: () => number[];
    waitFor: (check: () => boolean, what?: string, ms?: number) => Promise<void>;
  };
}

export type TestClient = ReturnType<typeof clientFor>;
