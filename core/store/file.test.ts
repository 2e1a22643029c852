import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nedb from '@seald-io/nedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredRoom } from '../model.ts';
import { FileStore } from './file.ts';
import { storeContract } from './store.contract.ts';

function makeDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'realtime-lab-store-'));
}

storeContract(
  'file',
  async () => {
    const dir = await makeDir();
    return {
      store: await FileStore.open(dir),
      reopen: () => FileStore.open(dir),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { restarts: true },
);

const room: StoredRoom = {
  id: 'r',
  title: 'R',
  max: 2,
  owner: '#a3c25e',
  ownerId: 'owner-userid-0001',
  passwordHash: null,
  kicked: [],
  createdAt: '2024-01-01T00:00:00.000Z',
};

describe('file store', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await makeDir();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates its directory when it is missing', async () => {
    const store = await FileStore.open(join(dir, 'nested', 'data'));
    await store.createRoom(room);
    await store.close();
    const reopened = await FileStore.open(join(dir, 'nested', 'data'));
    expect(await reopened.getRoom('r')).toMatchObject({ id: 'r' });
    await reopened.close();
  });

  it('continues after the last stored message when a crash left lastSeq behind', async () => {
    const store = await FileStore.open(dir);
    await store.createRoom(room);
    await store.appendMessage({ room: 'r', user: '#a3c25e', kind: 'chat', chat: 'one' });
    await store.close();

    // What a crash between inserting a message and raising lastSeq leaves on disk.
    const Datastore = nedb as unknown as typeof nedb.default;
    const messages = new Datastore({ filename: join(dir, 'messages.db') });
    await messages.loadDatabaseAsync();
    await messages.insertAsync({
      id: 'crashed',
      seq: 2,
      room: 'r',
      user: '#a3c25e',
      kind: 'chat',
      chat: 'two',
      createdAt: new Date().toISOString(),
    });
    await messages.compactDatafileAsync();

    const reopened = await FileStore.open(dir);
    const next = await reopened.appendMessage({
      room: 'r',
      user: '#a3c25e',
      kind: 'chat',
      chat: 'three',
    });
    expect(next.seq).toBe(3);
    expect((await reopened.messagesAfter('r', 0, 10)).map((m) => m.chat)).toEqual([
      'one',
      'two',
      'three',
    ]);
    await reopened.close();
  });

  it('reads a room of v1, owned and kicked by colour, as ownerless; its whisper stays one', async () => {
    const Datastore = nedb as unknown as typeof nedb.default;
    const rooms = new Datastore({ filename: join(dir, 'rooms.db') });
    const messages = new Datastore({ filename: join(dir, 'messages.db') });
    await Promise.all([rooms.loadDatabaseAsync(), messages.loadDatabaseAsync()]);
    // What v1 wrote: no ownerId, kicks and the whisper's recipient as colours, no userId.
    const { ownerId: _, ...v1Room } = room;
    await rooms.insertAsync({ ...v1Room, kicked: ['#12ab34'], lastSeq: 1, rank: 0 });
    await messages.insertAsync({
      id: 'old',
      seq: 1,
      room: 'r',
      user: '#a3c25e',
      to: '#12ab34',
      kind: 'chat',
      chat: 'psst',
      createdAt: new Date().toISOString(),
    });
    await Promise.all([rooms.compactDatafileAsync(), messages.compactDatafileAsync()]);

    const store = await FileStore.open(dir);
    expect(await store.getRoom('r')).toMatchObject({ owner: '#a3c25e', ownerId: null });
    const [old] = await store.messagesAfter('r', 0, 10);
    expect(old).toMatchObject({ user: '#a3c25e', to: '#12ab34' });
    expect(old?.userId).toBeUndefined();
    await store.close();
  });
});
