import { describe, expect, it } from 'vitest';
import { USER_PATTERN } from '../../core/model.ts';
import { clientFor } from '../../test/support/clients.ts';
import { GIF_1X1 } from '../../test/support/files.ts';
import { newSession } from '../../test/support/http.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

const PATHS = {
  polling: (room: string) => `/poll/room/${room}?wait=0`,
  sse: (room: string) => `/sse/room/${room}`,
  ws: () => '/ws',
  socketio: () => '/socket.io/?EIO=4&transport=polling',
} as const;

describe.each([
  { flags: [], transport: 'socketio' as const },
  { flags: ['--transport', 'polling'], transport: 'polling' as const },
])('the GIF chat over $transport', ({ flags, transport }) => {
  const started = startedLab(main, [
    ...['--port', '0', '--store', 'memory', '--member-grace', '100', '--poll-linger', '150'],
    ...flags,
  ]);
  const { log } = started;

  it('prints the lobby URL and serves only the chosen transport', async () => {
    expect(log[0]).toBe(`open ${started.lab.origin}/  (transports: ${transport}; store: memory)`);
    const alice = await newSession(started.lab.origin);
    const room = await alice.createRoom();
    for (const [name, path] of Object.entries(PATHS)) {
      const response = await alice.fetch(path(room.id));
      await response.body?.cancel();
      if (name === transport) expect(response.status, name).not.toBe(404);
      else expect(response.status, name).toBe(404);
    }
  });

  it('the book’s flow: a room, two colours, join, chat, a GIF, exit', async () => {
    const alice = await newSession(started.lab.origin);
    const bob = await newSession(started.lab.origin);
    expect(alice.user).toMatch(USER_PATTERN);
    expect(bob.user).toMatch(USER_PATTERN);
    expect(alice.user).not.toBe(bob.user);

    const lobby = clientFor(transport, started.lab.origin, bob);
    await lobby.connectLobby();
    const room = await alice.createRoom({ title: 'GIF 채팅방' });
    await lobby.waitFor(() => lobby.events.some((e) => e.type === 'newRoom'), 'newRoom');
    lobby.close();

    const a = clientFor(transport, started.lab.origin, alice);
    const b = clientFor(transport, started.lab.origin, bob);
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
    await a.waitFor(() => a.events.filter((e) => e.type === 'join').length === 2, 'two joins');
    await b.send('안녕하세요');

    const upload = await alice.uploadGif(room.id, GIF_1X1, 'hello.gif');
    expect(upload.status).toBe(201);
    await b.waitFor(() => b.chats().some((m) => m.kind === 'gif'), 'the GIF');
    const gif = b.chats().find((m) => m.kind === 'gif')!;
    expect(gif.user).toBe(alice.user);
    const image = await fetch(`${started.lab.origin}/gif/${gif.gif}`);
    expect(image.headers.get('content-type')).toBe('image/gif');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(GIF_1X1);
    expect(a.chats().map((m) => m.chat)).toContain('안녕하세요');

    b.close();
    await a.waitFor(() => a.events.some((e) => e.type === 'exit'), 'the exit');
    a.close();
  });
});
