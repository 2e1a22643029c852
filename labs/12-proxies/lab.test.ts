import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientFor } from '../../test/support/clients.ts';
import { newSession, type Session } from '../../test/support/http.ts';
import { NGINX_BINARY, NO_NGINX } from '../shared/nginx.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

if (!NGINX_BINARY) console.warn(`lab 12 tests skipped: ${NO_NGINX}`);

/** When each chat event of an SSE stream arrived, and in how many reads (lumps). */
function watchStream(url: string, cookie: string) {
  const arrivals: number[] = [];
  let lumps = 0;
  const request = get(url, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      const chats = text.match(/^event: chat$/gm)?.length ?? 0;
      if (chats === 0) return;
      lumps += 1;
      for (let i = 0; i < chats; i += 1) arrivals.push(Date.now());
    });
  });
  request.on('error', () => undefined);
  return {
    arrivals,
    get lumps() {
      return lumps;
    },
    close: () => request.destroy(),
  };
}

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe.skipIf(!NGINX_BINARY)('lab 12: SSE and long polling through nginx', () => {
  const started = startedLab(main, ['--port', '0']);

  async function roomOf(): Promise<{ owner: Session; room: string }> {
    const owner = await newSession(started.lab.origin);
    return { owner, room: (await owner.createRoom({ title: 'through nginx' })).id };
  }

  it('prints the two addresses through nginx, and where its configuration is', () => {
    const { proxies } = started.lab;
    expect(started.log).toContain(
      `through nginx, which obeys X-Accel-Buffering: no: ${proxies!.obeys}/compare`,
    );
    expect(started.log).toContain(
      `through nginx, which buffers (ignores that header): ${proxies!.buffers}/compare`,
    );
    expect(started.log.some((line) => line.startsWith("nginx's configuration: "))).toBe(true);
  });

  it('SSE: in real time where nginx obeys the header, held and then in lumps where it buffers', async () => {
    const { owner, room } = await roomOf();
    const { proxies } = started.lab;
    const path = `/sse/room/${room}?after=0`;
    const live = watchStream(`${proxies!.obeys}${path}`, owner.cookie);
    const held = watchStream(`${proxies!.buffers}${path}`, owner.cookie);
    try {
      await pause(300);
      const sent: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        sent.push(Date.now());
        await owner.say(room, `slow ${i}`);
        await pause(300);
      }
      await pause(500);
      // Each of the three came through the obeying proxy at once.
      expect(live.arrivals).toHaveLength(3);
      for (const [i, at] of live.arrivals.entries()) expect(at - sent[i]!).toBeLessThan(1000);
      // Not one came through the buffering proxy: nginx holds them until its 4 KiB buffer fills.
      expect(held.arrivals).toEqual([]);

      // About 4 KiB more, and the buffer goes out: everything held, in a few reads at once.
      for (let i = 0; i < 30; i += 1) await owner.say(room, `fill ${i} ${'x'.repeat(100)}`);
      await pause(800);
      expect(held.arrivals.length).toBeGreaterThanOrEqual(13);
      expect(held.arrivals.length / held.lumps).toBeGreaterThanOrEqual(5);
      expect(held.arrivals[0]! - sent[0]!).toBeGreaterThan(1000);
      expect(live.arrivals).toHaveLength(33);
    } finally {
      live.close();
      held.close();
    }
  });

  it('long polling through the buffering proxy: every answer is whole, so it comes at once', async () => {
    const { owner, room } = await roomOf();
    const client = clientFor('polling', started.lab.proxies!.buffers, owner);
    try {
      await client.connectRoom(room);
      for (let i = 0; i < 3; i += 1) {
        const posted = Date.now();
        await owner.say(room, `poll ${i}`);
        await client.waitFor(() => client.chats().length === i + 1, `message ${i}`, 2000);
        expect(Date.now() - posted).toBeLessThan(500);
      }
    } finally {
      client.close();
    }
  });

  it('WebSocket and Socket.IO go through both (HTTP/1.1 and the Upgrade headers on /ws, /socket.io/)', async () => {
    const { owner, room } = await roomOf();
    for (const origin of [started.lab.proxies!.obeys, started.lab.proxies!.buffers]) {
      for (const transport of ['ws', 'socketio'] as const) {
        const client = clientFor(transport, origin, owner);
        try {
          await client.connectRoom(room);
          const message = await client.send(`${transport} via ${origin}`);
          await client.waitFor(() => client.chats().some((m) => m.seq === message.seq));
        } finally {
          client.close();
        }
      }
    }
  });
});
