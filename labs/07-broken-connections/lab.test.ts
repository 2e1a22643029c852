import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Message, TRANSPORT_NAMES } from '../../core/model.ts';
import { clientFor, type TestClient } from '../../test/support/clients.ts';
import { newSession, type Session } from '../../test/support/http.ts';
import type { LabApp } from '../shared/app.ts';
import { ACCEPT_LANGUAGE, itSpeaksBothLanguages } from '../shared/languages.ts';
import { main } from './server.ts';

/** Heartbeats every 200 ms here (SSE 15 s, ws 30 s, Socket.IO 25 s by default). */
const HEARTBEAT_MS = 200;

let dataDir: string;
let lab: LabApp;
let alice: Session;
let room: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'realtime-lab-07-'));
  lab = await main(
    ['--port', '0', '--data-dir', dataDir, '--heartbeat', String(HEARTBEAT_MS)].concat([
      '--member-grace',
      '100',
      '--poll-linger',
      '150',
    ]),
    () => undefined,
  );
  alice = await newSession(lab.origin);
  room = (await alice.createRoom({ title: 'broken connections' })).id;
});
afterAll(async () => {
  for (const client of clients) client.close();
  await lab.close();
  await rm(dataDir, { recursive: true, force: true });
});

const chats = (client: TestClient) => client.chats().map((m: Message) => m.chat);
async function say(...texts: string[]) {
  for (const text of texts) await alice.say(room, text);
}
async function allHave(text: string, ms = 8000) {
  for (const client of clients) {
    await client.waitFor(() => chats(client).includes(text), `"${text}"`, ms);
  }
}

it('serves the four-pane page, with its script and no inline code', async () => {
  const page = await fetch(lab.url);
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  const html = await page.text();
  expect(html).toContain('<script type="module" src="/lab/page.js"></script>');
  expect(html).not.toMatch(/<script>|\son\w+="/);
  const script = await fetch(`${lab.origin}/lab/page.js`);
  expect(script.status).toBe(200);
});

it('a dropped connection on every transport reconnects and catches up by seq', async () => {
  for (const transport of TRANSPORT_NAMES) {
    const client = clientFor(transport, lab.origin, await newSession(lab.origin));
    clients.push(client);
    await client.connectRoom(room, { after: 0 });
  }
  await say('one', 'two', 'three');
  await allHave('three');
  for (const client of clients) client.drop();
  // Posted while the four are reconnecting: each gets them on its resume, after its lastSeq.
  await say('four', 'five', 'six');
  await allHave('six');
  for (const client of clients) {
    expect(chats(client)).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
  }
});

it('a server restart: the streams notice, and every client reconnects and resumes with nothing lost', async () => {
  const states = new Map(clients.map((client) => [client, [] as string[]]));
  for (const client of clients) client.on('state', (state) => states.get(client)!.push(state));
  await lab.restart();
  await say('seven', 'eight', 'nine');
  await allHave('nine', 15_000);
  for (const client of clients) {
    expect(chats(client)).toEqual([
      'one',
      'two',
      'three',
      'four',
      'five',
      'six',
      'seven',
      'eight',
      'nine',
    ]);
    // Every stored event (chats, joins, exits) once, in order, none missing: 1, 2, 3, ...
    const seqs = client.seqs();
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // The streams saw their connection end. A long poll is a new request each time: a restart
    // between two polls goes unnoticed, and a poll the closing server refused is simply retried.
    if (client.transport !== 'polling') {
      expect(states.get(client), client.transport).toContain('connecting');
    }
    await client.waitFor(() => client.state === 'open', 'open again');
  }
});

it('a peer that stops answering pings is ended by the heartbeat, and leaves the room', async () => {
  const watcher = clients[0]!;
  const silent = await newSession(lab.origin);
  const socket = new WebSocket(`${lab.origin.replace('http', 'ws')}/ws`, {
    headers: { cookie: silent.cookie },
    autoPong: false,
  });
  await new Promise((done) => socket.once('open', done));
  socket.send(JSON.stringify({ type: 'subscribe', room }));
  const joined = `${silent.user} joined`;
  await watcher.waitFor(() => watcher.events.some((e) => (e.data as Message).chat === joined));
  const opened = Date.now();
  await new Promise((done) => socket.once('close', done));
  // Ended after the first unanswered ping: between one and three heartbeats.
  expect(Date.now() - opened).toBeLessThan(HEARTBEAT_MS * 4);
  const left = `${silent.user} left`;
  await watcher.waitFor(() => watcher.events.some((e) => (e.data as Message).chat === left));
});

describe('the four-pane page in Korean and in English', () => {
  itSpeaksBothLanguages(() => lab.url, { en: 'One room, four ways', ko: '한 방, 네 가지 방식' });

  it('a language chosen with ?lang= is still the one after a restart (the same session)', async () => {
    const headers = { 'accept-language': ACCEPT_LANGUAGE.en };
    const asked = await fetch(`${lab.url}?lang=ko`, { headers });
    const cookie = asked.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    expect(await asked.text()).toContain('<html lang="ko">');
    await lab.restart();
    const after = await (await fetch(lab.url, { headers: { ...headers, cookie } })).text();
    expect(after).toContain('<html lang="ko">');
    expect(after).toContain('<h1>한 방, 네 가지 방식</h1>');
  });
});
