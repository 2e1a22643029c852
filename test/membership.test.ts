import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GIF_1X1 } from './support/files.ts';
import { eventually, memberList, newSession } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';
import { openSse } from './support/sse.ts';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function history(session: Awaited<ReturnType<typeof newSession>>, room: string) {
  const response = await session.fetch(`/api/rooms/${room}/messages`);
  return ((await response.json()) as { messages: { kind: string; chat?: string; user: string }[] })
    .messages;
}

async function sseConnections(): Promise<number> {
  const response = await fetch(`${server!.url}/api/stats`);
  return ((await response.json()) as { transports: { sse: { connections: number } } }).transports
    .sse.connections;
}

describe('membership (PROTOCOL.md, Membership)', () => {
  it('join and exit are stored system messages; a reload within the grace is no exit', async () => {
    // The reload must land within the grace: 1.5 s, well past a request on a busy machine
    // (400 ms was not, with both cores busy).
    server = await startServer({ transport: 'sse', memberGraceMs: 1500 });
    const alice = await newSession(server.url);
    const bob = await newSession(server.url);
    const room = await alice.createRoom();
    const watcher = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: alice.cookie });
    await watcher.waitFor(1, 'members');

    const first = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: bob.cookie });
    await watcher.waitFor(1, 'join', 3000);
    await watcher.waitFor(2, 'join');
    first.close();
    // A reload: back well within the grace, once the server has seen the first stream go (the
    // grace then runs; a fixed sleep could end before that, or eat the grace on a busy machine).
    await eventually(async () => (await sseConnections()) === 1, 5000, 'the first stream closed');
    const reloaded = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: bob.cookie });
    // Past the grace from the close: an exit would have come by now.
    await new Promise((done) => setTimeout(done, 1800));
    expect(watcher.events().filter((e) => e.type === 'exit')).toEqual([]);
    expect(watcher.events().filter((e) => e.type === 'join')).toHaveLength(2);

    reloaded.close();
    await watcher.waitFor(1, 'exit', 5000);
    const exit = watcher.events().find((e) => e.type === 'exit')!;
    expect(exit.data).toMatchObject({ kind: 'system', user: 'system', chat: `${bob.user} left` });
    const lastMembers = watcher
      .events()
      .filter((e) => e.type === 'members')
      .at(-1);
    expect(lastMembers?.data).toEqual({ members: memberList(alice), ownerId: alice.userId });
    expect((await history(alice, room.id)).map((m) => m.chat)).toEqual([
      `${alice.user} joined`,
      `${bob.user} joined`,
      `${bob.user} left`,
    ]);
    watcher.close();
  });

  it('when the owner exits, the longest-present member owns the room: exit, owner, members', async () => {
    server = await startServer({ transport: 'sse', memberGraceMs: 200 });
    const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => newSession(server!.url)));
    const room = await alice!.createRoom();
    const lobby = await openSse(`${server.url}/sse/lobby`);
    const owner = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: alice!.cookie });
    await owner.waitFor(1, 'members');
    const b = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: bob!.cookie });
    await b.waitFor(1, 'members');
    const c = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: carol!.cookie });
    await c.waitFor(1, 'members');
    const before = c.events().length;
    owner.close();
    await c.waitFor(1, 'owner', 3000);
    await eventually(() => c.events().length >= before + 3);
    expect(
      c
        .events()
        .slice(before)
        .map((e) => e.type),
    ).toEqual(['exit', 'owner', 'members']);
    expect(c.events().slice(before)[1]!.data).toMatchObject({
      chat: `${bob!.user} is now the owner`,
    });
    expect(c.events().at(-1)!.data).toEqual({
      members: memberList(bob!, carol!),
      ownerId: bob!.userId,
    });
    await eventually(() =>
      lobby
        .events()
        .some(
          (e) => e.type === 'roomUpdate' && (e.data as { ownerId: string }).ownerId === bob!.userId,
        ),
    );
    expect((await fetch(`${server.url}/api/rooms`).then((r) => r.json())) as unknown).toMatchObject(
      {
        rooms: [{ id: room.id, owner: bob!.user, members: 2 }],
      },
    );
    // The new owner can kick, the old one no longer can.
    expect(await alice!.kick(room.id, carol!.userId)).toBe(403);
    expect(await bob!.kick(room.id, carol!.userId)).toBe(204);
    for (const stream of [b, c, lobby]) stream.close();
  });

  it('an empty room is removed after --empty-room-grace with its messages and GIF files; lobby streams get removeRoom', async () => {
    server = await startServer({ transport: 'sse', memberGraceMs: 100, emptyRoomGraceMs: 600 });
    const alice = await newSession(server.url);
    const room = await alice.createRoom();
    const lobby = await openSse(`${server.url}/sse/lobby`);
    const member = await openSse(`${server.url}/sse/room/${room.id}`, { cookie: alice.cookie });
    await member.waitFor(1, 'members');
    const upload = await alice.uploadGif(room.id, GIF_1X1, 'a.gif');
    const { message } = (await upload.json()) as { message: { gif: string } };
    expect(await readdir(join(server.dataDir, 'gifs'))).toContain(message.gif);
    // A member keeps the room alive past the grace.
    await new Promise((done) => setTimeout(done, 900));
    expect((await alice.fetch(`/api/rooms/${room.id}/messages`)).status).toBe(200);

    member.close();
    const left = Date.now();
    await lobby.waitFor(1, 'removeRoom', 5000);
    // Member grace (100 ms) plus the empty-room grace (600 ms).
    expect(Date.now() - left).toBeGreaterThanOrEqual(600);
    expect(lobby.events().find((e) => e.type === 'removeRoom')?.data).toEqual({ id: room.id });
    expect((await alice.fetch(`/api/rooms/${room.id}/messages`)).status).toBe(404);
    expect(await readdir(join(server.dataDir, 'gifs'))).not.toContain(message.gif);
    expect(await server.chat.store.messagesAfter(room.id, 0, 10)).toEqual([]);
    lobby.close();
  });

  it('a room nobody enters is removed after the grace too; a join stops the clock', async () => {
    // The join must come within the grace of the room's creation: 300 ms was too short a window
    // for a request on a busy machine, and then the visited room went too.
    server = await startServer({ transport: 'sse', emptyRoomGraceMs: 1000 });
    const alice = await newSession(server.url);
    const lonely = await alice.createRoom({ title: 'lonely' });
    const visited = await alice.createRoom({ title: 'visited' });
    const member = await openSse(`${server.url}/sse/room/${visited.id}`, { cookie: alice.cookie });
    await member.waitFor(1, 'members');
    const roomIds = async () =>
      (
        (await (await fetch(`${server!.url}/api/rooms`)).json()) as { rooms: { id: string }[] }
      ).rooms.map((r) => r.id);
    await eventually(async () => !(await roomIds()).includes(lonely.id), 5000, 'lonely removed');
    // The visited room's clock, had the join not stopped it, ran out just after the lonely one's.
    await new Promise((done) => setTimeout(done, 300));
    const ids = await roomIds();
    expect(ids).toEqual([visited.id]);
    expect(ids).not.toContain(lonely.id);
    member.close();
  });
});
