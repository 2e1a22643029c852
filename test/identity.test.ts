/**
 * PROTOCOL.md, Identity: a user is a random `userId`; the colour only shows them. An attacker who
 * grinds /api/me until a session has the owner's colour (a few thousand calls, seconds) gets
 * someone of that colour, and nothing else: not the owner's rooms, kicks or whispers. And two
 * students of one colour are two members, each with a join and an exit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MembersPayload, type Message, TRANSPORT_NAMES } from '../core/model.ts';
import { clientFor, type TestClient } from './support/clients.ts';
import { newSession, type Session, sessionOfColour } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

let server: TestServer;
let owner: Session;
let bob: Session;
/** Another user of the owner's colour, ground out of /api/me. */
let twin: Session;
let locked: { id: string };
let open: { id: string };
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startServer({ memberGraceMs: 200, pollLingerMs: 300, limits: false });
  owner = await newSession(server.url);
  bob = await newSession(server.url);
  locked = await owner.createRoom({ title: 'locked', password: 'sesame' });
  open = await owner.createRoom({ title: 'open', max: 50 });
  twin = await sessionOfColour(server.url, owner.user);
}, 120_000);
afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
});

function client(transport: (typeof TRANSPORT_NAMES)[number], session: Session): TestClient {
  const made = clientFor(transport, server.url, session);
  clients.push(made);
  return made;
}

describe('a session ground out of /api/me with the owner’s colour', () => {
  it('is someone else: another userId, the same colour', () => {
    expect(twin.user).toBe(owner.user);
    expect(twin.userId).not.toBe(owner.userId);
    expect(twin.userId).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
  });

  it('cannot enter the owner’s password room', async () => {
    const page = await twin.fetch(`/room/${locked.id}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('name="password"');
    expect(html).not.toContain('id="chat-list"');
    expect(
      (await twin.fetch(`/room/${locked.id}/enter`, { method: 'POST', json: {} })).status,
    ).toBe(403);
    const wrong = { method: 'POST', json: { password: 'guess' } } as const;
    expect((await twin.fetch(`/room/${locked.id}/enter`, wrong)).status).toBe(403);
    const post = { method: 'POST', json: { chat: 'let me in' } } as const;
    expect((await twin.fetch(`/room/${locked.id}/chat`, post)).status).toBe(403);
    expect((await twin.fetch(`/api/rooms/${locked.id}/messages`)).status).toBe(403);
    expect((await twin.fetch(`/sse/room/${locked.id}`)).status).toBe(403);
    expect((await twin.fetch(`/poll/room/${locked.id}?wait=0`)).status).toBe(403);
    for (const transport of TRANSPORT_NAMES) {
      await expect(client(transport, twin).connectRoom(locked.id)).rejects.toMatchObject({
        status: 403,
      });
    }
    // The owner is let in without the password, as before.
    expect((await owner.fetch(`/api/rooms/${locked.id}/messages`)).status).toBe(200);
  });

  it('cannot kick or remove the owner’s rooms; a kick by the owner does not touch it', async () => {
    expect(await twin.kick(open.id, bob.userId)).toBe(403);
    expect(await twin.kick(open.id, owner.userId)).toBe(403);
    for (const room of [open, locked]) {
      expect((await twin.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(403);
    }
    const rooms = (await (await fetch(`${server.url}/api/rooms`)).json()) as {
      rooms: { id: string; ownerId: string }[];
    };
    for (const room of [open, locked]) {
      expect(rooms.rooms.find((r) => r.id === room.id)?.ownerId).toBe(owner.userId);
    }
    // The owner kicks someone of their own colour in another room: only that userId is out.
    const other = await owner.createRoom({ title: 'other' });
    expect(await owner.kick(other.id, twin.userId)).toBe(204);
    expect((await twin.fetch(`/api/rooms/${other.id}/messages`)).status).toBe(403);
    expect((await owner.fetch(`/api/rooms/${other.id}/messages`)).status).toBe(200);
  });

  it('cannot read the owner’s whispers, in the history or live, on any transport', async () => {
    const room = await owner.createRoom({ title: 'whispers' });
    const listeners = TRANSPORT_NAMES.map((transport) => ({
      transport,
      owners: client(transport, owner),
      twins: client(transport, twin),
    }));
    for (const { owners, twins } of listeners) {
      await owners.connectRoom(room.id, { after: 0 });
      await twins.connectRoom(room.id, { after: 0 });
    }
    const secret = await bob.say(room.id, 'for the owner only', owner.userId);
    const everyone = await bob.say(room.id, 'for everyone');
    expect(secret).toMatchObject({ toId: owner.userId, to: owner.user, userId: bob.userId });
    for (const { owners, twins } of listeners) {
      await owners.waitFor(() => owners.chats().some((m) => m.seq === everyone.seq), 'everyone');
      await twins.waitFor(() => twins.chats().some((m) => m.seq === everyone.seq), 'everyone');
      expect(owners.chats().map((m) => m.chat)).toContain('for the owner only');
      expect(twins.chats().map((m) => m.chat)).not.toContain('for the owner only');
    }
    const history = async (as: Session) =>
      (
        (await (await as.fetch(`/api/rooms/${room.id}/messages?after=0`)).json()) as {
          messages: Message[];
        }
      ).messages.map((m) => m.chat);
    expect(await history(owner)).toContain('for the owner only');
    expect(await history(twin)).not.toContain('for the owner only');
    // A late subscriber of the owner's colour replays without it too.
    for (const transport of TRANSPORT_NAMES) {
      const late = client(transport, twin);
      await late.connectRoom(room.id, { after: 0 });
      await late.waitFor(() => late.chats().some((m) => m.seq === everyone.seq), 'the replay');
      expect(late.chats().map((m) => m.chat)).not.toContain('for the owner only');
      late.close();
    }
    for (const { owners, twins } of listeners) {
      owners.close();
      twins.close();
    }
  });
});

describe.each(TRANSPORT_NAMES)('two people of one colour in an open room, over %s', (transport) => {
  it('are two members, with a join and an exit each', async () => {
    const room = await bob.createRoom({ title: `twins ${transport}` });
    const watcher = client(transport, bob);
    await watcher.connectRoom(room.id);
    const lastMembers = () =>
      watcher.events.filter((e) => e.type === 'members').at(-1)?.data as MembersPayload | undefined;
    const lines = (type: 'join' | 'exit') =>
      watcher.events.filter((e) => e.type === type).map((e) => (e.data as Message).chat);

    const first = client(transport, owner);
    await first.connectRoom(room.id);
    await watcher.waitFor(() => lastMembers()?.members.length === 2, 'the first of the colour');
    const second = client(transport, twin);
    await second.connectRoom(room.id);
    await watcher.waitFor(() => lastMembers()?.members.length === 3, 'the second of the colour');
    expect(lastMembers()?.members).toEqual([
      { userId: bob.userId, user: bob.user },
      { userId: owner.userId, user: owner.user },
      { userId: twin.userId, user: owner.user },
    ]);
    expect(lines('join')).toEqual([
      `${bob.user} joined`,
      `${owner.user} joined`,
      `${owner.user} joined`,
    ]);

    second.close();
    await watcher.waitFor(() => lines('exit').length === 1, 'one exit', 10_000);
    await watcher.waitFor(() => lastMembers()?.members.length === 2, 'the list after it');
    expect(lastMembers()?.members.map((m) => m.userId)).toEqual([bob.userId, owner.userId]);
    first.close();
    await watcher.waitFor(() => lines('exit').length === 2, 'the other exit', 10_000);
    await watcher.waitFor(() => lastMembers()?.members.length === 1, 'bob alone');
    watcher.close();
  });
});
