import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type MembersPayload,
  type Message,
  TRANSPORT_NAMES,
  type TransportName,
} from '../../core/model.ts';
import { clientFor, type TestClient } from '../../test/support/clients.ts';
import { memberList, newSession, type Session } from '../../test/support/http.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

/** The five 스스로 해보기 exercises, each through a real client of every transport. */

const started = startedLab(main, ['--port', '0', '--member-grace', '100', '--poll-linger', '150']);

const texts = (client: TestClient, type: string) =>
  client.events.filter((e) => e.type === type).map((e) => (e.data as Message).chat);
const lastMembers = (client: TestClient) =>
  client.events.filter((e) => e.type === 'members').at(-1)?.data as MembersPayload | undefined;

describe.each(TRANSPORT_NAMES)('over %s', (transport: TransportName) => {
  let alice: Session;
  let bob: Session;
  let carol: Session;
  const clients: TestClient[] = [];
  const client = (session: Session) => {
    const made = clientFor(transport, started.lab.origin, session);
    clients.push(made);
    return made;
  };
  beforeAll(async () => {
    alice = await newSession(started.lab.origin);
    bob = await newSession(started.lab.origin);
    carol = await newSession(started.lab.origin);
  });
  afterAll(() => {
    for (const each of clients) each.close();
  });

  it('1. member count and list: every member gets the list; the lobby gets the count', async () => {
    const room = await alice.createRoom();
    const lobby = client(carol);
    await lobby.connectLobby();
    const a = client(alice);
    const b = client(bob);
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
    await a.waitFor(() => lastMembers(a)?.members.length === 2, 'two members');
    expect(lastMembers(a)).toEqual({ members: memberList(alice, bob), ownerId: alice.userId });
    await lobby.waitFor(
      () =>
        lobby.events.some(
          (e) => e.type === 'roomUpdate' && (e.data as { members: number }).members === 2,
        ),
      'the count in the lobby',
    );
    b.close();
    await a.waitFor(() => lastMembers(a)?.members.length === 1, 'one member after the exit');
  });

  it('2. system messages are saved: a late client replays the joins and exits', async () => {
    const room = await alice.createRoom();
    const a = client(alice);
    const b = client(bob);
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
    b.close();
    await a.waitFor(() => texts(a, 'exit').length === 1, 'the exit');
    const history = (await (await alice.fetch(`/api/rooms/${room.id}/messages`)).json()) as {
      messages: Message[];
    };
    expect(history.messages.map((m) => [m.kind, m.user, m.chat])).toEqual([
      ['system', 'system', `${alice.user} joined`],
      ['system', 'system', `${bob.user} joined`],
      ['system', 'system', `${bob.user} left`],
    ]);
    const late = client(carol);
    await late.connectRoom(room.id, { after: 0 });
    await late.waitFor(() => texts(late, 'join').length === 3, 'the replayed joins');
    expect(texts(late, 'exit')).toEqual([`${bob.user} left`]);
    expect(late.seqs().slice(0, 4)).toEqual([1, 2, 3, 4]);
  });

  it('3. whisper: only the sender and the one it is for receive it, now and in the history', async () => {
    const room = await alice.createRoom();
    const [a, b, c] = [client(alice), client(bob), client(carol)];
    for (const each of [a, b, c]) await each.connectRoom(room.id);
    const whisper = await a.send('귓속말', { toId: bob.userId });
    expect(whisper).toMatchObject({ toId: bob.userId, to: bob.user });
    await a.send('for everyone');
    for (const each of [a, b, c]) {
      await each.waitFor(() => each.chats().some((m) => m.chat === 'for everyone'), 'the chat');
    }
    expect(b.chats().map((m) => m.chat)).toEqual(['귓속말', 'for everyone']);
    expect(c.chats().map((m) => m.chat)).toEqual(['for everyone']);
    const history = (await (await carol.fetch(`/api/rooms/${room.id}/messages`)).json()) as {
      messages: Message[];
    };
    expect(history.messages.some((m) => m.chat === '귓속말')).toBe(false);
  });

  it('4. owner hand-over: when the owner leaves, the longest-present member owns the room', async () => {
    const room = await alice.createRoom();
    const [a, b, c] = [client(alice), client(bob), client(carol)];
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
    await c.connectRoom(room.id);
    await c.waitFor(() => lastMembers(c)?.members.length === 3, 'three members');
    a.close();
    await c.waitFor(() => texts(c, 'owner').length === 1, 'the owner message');
    expect(texts(c, 'owner')).toEqual([`${bob.user} is now the owner`]);
    const order = c.events.filter((e) => ['exit', 'owner'].includes(e.type)).map((e) => e.type);
    expect(order).toEqual(['exit', 'owner']);
    await c.waitFor(() => lastMembers(c)?.ownerId === bob.userId, 'the new owner in members');
    const rooms = (await (await fetch(`${started.lab.origin}/api/rooms`)).json()) as {
      rooms: { id: string; owner: string }[];
    };
    expect(rooms.rooms.find((r) => r.id === room.id)?.owner).toBe(bob.user);
    // The new owner may now kick; the old one may not.
    expect(await alice.kick(room.id, carol.userId)).toBe(403);
  });

  it('5. kick: the kicked member is told, leaves at once and may not come back', async () => {
    const room = await alice.createRoom();
    const [a, b] = [client(alice), client(bob)];
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
    await a.waitFor(() => lastMembers(a)?.members.length === 2, 'two members');
    expect(await alice.kick(room.id, bob.userId)).toBe(204);
    await b.waitFor(() => b.events.some((e) => e.type === 'kicked'), 'kicked');
    await a.waitFor(() => texts(a, 'exit').includes(`${bob.user} left`), 'the exit');
    await b.waitFor(() => b.state === 'closed', 'the kicked client stops');
    const again = client(bob);
    await expect(again.connectRoom(room.id)).rejects.toMatchObject({ status: 403 });
    expect(
      (await bob.fetch(`/room/${room.id}/chat`, { method: 'POST', json: { chat: 'hi' } })).status,
    ).toBe(403);
  });
});
