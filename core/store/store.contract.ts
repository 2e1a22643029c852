import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatError } from '../errors.ts';
import { ID_PATTERN, type Message, type MessageDraft, type StoredRoom } from '../model.ts';
import type { Store } from './store.ts';

export interface StoreFixture {
  store: Store;
  /** Opens the same data again after `store.close()`; given, the restart case runs. */
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

const OWNER = { owner: '#a3c25e', ownerId: 'owner-userid-0001' };
const GUEST = { owner: '#12ab34', ownerId: 'guest-userid-0002' };
const OTHER = { owner: '#ffeedd', ownerId: 'other-userid-0003' };

let roomCount = 0;

/** A room with a fresh id and a `createdAt` later than every room made before it. */
function newRoom(fields: Partial<StoredRoom> = {}): StoredRoom {
  roomCount += 1;
  return {
    id: `room-${roomCount}`,
    title: `Room ${roomCount}`,
    max: 10,
    ...OWNER,
    passwordHash: null,
    kicked: [],
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, roomCount)).toISOString(),
    ...fields,
  };
}

function chat(room: string, text: string, sender = OWNER): MessageDraft {
  return { room, user: sender.owner, userId: sender.ownerId, kind: 'chat', chat: text };
}

function seqs(messages: Message[]): number[] {
  return messages.map((message) => message.seq);
}

function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The Store contract of `store.ts`, run against the adapter `make` builds afresh for each case. */
export function storeContract(
  name: string,
  make: () => Promise<StoreFixture>,
  options: { restarts?: boolean } = {},
): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanup();
    });

    it('creates rooms, gets them and lists them oldest first', async () => {
      const rooms = [newRoom(), newRoom({ passwordHash: 'scrypt$00ff$abcd' }), newRoom()];
      for (const room of rooms) await store.createRoom(room);

      expect(await store.getRoom(rooms[1]!.id)).toEqual(rooms[1]);
      expect(await store.listRooms()).toEqual(rooms);
    });

    it('gives null for an unknown room', async () => {
      expect(await store.getRoom('nope')).toBeNull();
    });

    it('sets the owner', async () => {
      const room = newRoom();
      await store.createRoom(room);
      await store.setOwner(room.id, GUEST);
      expect(await store.getRoom(room.id)).toEqual({ ...room, ...GUEST });
    });

    it('adds a kicked user once', async () => {
      const room = newRoom();
      await store.createRoom(room);
      await store.addKicked(room.id, GUEST.ownerId);
      await store.addKicked(room.id, OTHER.ownerId);
      await store.addKicked(room.id, GUEST.ownerId);
      expect((await store.getRoom(room.id))?.kicked).toEqual([GUEST.ownerId, OTHER.ownerId]);
    });

    it('changes nothing when setting the owner or kicking in an unknown room', async () => {
      await store.setOwner('nope', GUEST);
      await store.addKicked('nope', GUEST.ownerId);
      expect(await store.getRoom('nope')).toBeNull();
      expect(await store.listRooms()).toEqual([]);
    });

    it('numbers the messages of each room 1, 2, 3... on its own', async () => {
      const a = newRoom();
      const b = newRoom();
      await store.createRoom(a);
      await store.createRoom(b);

      const before = Date.now();
      const appended = [
        await store.appendMessage(chat(a.id, 'a1')),
        await store.appendMessage(chat(b.id, 'b1')),
        await store.appendMessage(chat(a.id, 'a2')),
        await store.appendMessage(chat(b.id, 'b2')),
        await store.appendMessage(chat(a.id, 'a3')),
      ];

      expect(appended.map((m) => [m.room, m.seq, m.chat])).toEqual([
        [a.id, 1, 'a1'],
        [b.id, 1, 'b1'],
        [a.id, 2, 'a2'],
        [b.id, 2, 'b2'],
        [a.id, 3, 'a3'],
      ]);
      for (const message of appended) {
        expect(message.id).toMatch(ID_PATTERN);
        expect(message).toMatchObject({ user: OWNER.owner, userId: OWNER.ownerId, kind: 'chat' });
        expect(new Date(message.createdAt).toISOString()).toBe(message.createdAt);
        expect(Date.parse(message.createdAt)).toBeGreaterThanOrEqual(before - 1);
      }
      expect(new Set(appended.map((m) => m.id)).size).toBe(appended.length);
      expect(await store.messagesAfter(a.id, 0, 100)).toEqual(
        appended.filter((m) => m.room === a.id),
      );
      expect(await store.messagesAfter(b.id, 0, 100)).toEqual(
        appended.filter((m) => m.room === b.id),
      );
    });

    it('gives 200 concurrent appends to one room exactly seq 1..200', async () => {
      const room = newRoom();
      await store.createRoom(room);

      const appended = await Promise.all(
        oneTo(200).map((n) => store.appendMessage(chat(room.id, `message ${n}`))),
      );

      expect(seqs(appended).sort((x, y) => x - y)).toEqual(oneTo(200));
      expect(new Set(appended.map((m) => m.id)).size).toBe(200);
      const stored = await store.messagesAfter(room.id, 0, 1000);
      expect(seqs(stored)).toEqual(oneTo(200));
      expect(stored).toEqual([...appended].sort((x, y) => x.seq - y.seq));
    });

    it('knows the last seq it gave out: 0 before any, and for unknown rooms', async () => {
      const room = newRoom();
      await store.createRoom(room);
      expect(await store.lastSeq(room.id)).toBe(0);
      expect(await store.lastSeq('nope')).toBe(0);
      for (const n of oneTo(3)) await store.appendMessage(chat(room.id, `m${n}`));
      expect(await store.lastSeq(room.id)).toBe(3);
      await store.removeRoom(room.id);
      expect(await store.lastSeq(room.id)).toBe(0);
    });

    it('rejects an append to an unknown room with a ChatError 404', async () => {
      const append = store.appendMessage(chat('nope', 'hello'));
      await expect(append).rejects.toBeInstanceOf(ChatError);
      await expect(append).rejects.toMatchObject({ status: 404 });
      expect(await store.messagesAfter('nope', 0, 100)).toEqual([]);
    });

    it('pages messages with after and limit, oldest first', async () => {
      const room = newRoom();
      await store.createRoom(room);
      for (const n of oneTo(5)) await store.appendMessage(chat(room.id, `m${n}`));

      expect(seqs(await store.messagesAfter(room.id, 0, 2))).toEqual([1, 2]);
      expect(seqs(await store.messagesAfter(room.id, 2, 2))).toEqual([3, 4]);
      expect(seqs(await store.messagesAfter(room.id, 2, 100))).toEqual([3, 4, 5]);
      expect((await store.messagesAfter(room.id, 4, 100)).map((m) => m.chat)).toEqual(['m5']);
      expect(await store.messagesAfter(room.id, 5, 100)).toEqual([]);
      expect(await store.messagesAfter(room.id, 99, 100)).toEqual([]);
      expect(await store.messagesAfter(room.id, 0, 0)).toEqual([]);
      expect(await store.messagesAfter('nope', 0, 100)).toEqual([]);
    });

    it('round-trips whispers, gifs and system messages with all their fields', async () => {
      const room = newRoom();
      await store.createRoom(room);
      const drafts: MessageDraft[] = [
        { ...chat(room.id, 'psst'), toId: GUEST.ownerId, to: GUEST.owner },
        { room: room.id, user: GUEST.owner, userId: GUEST.ownerId, kind: 'gif', gif: 'cat_01.gif' },
        {
          room: room.id,
          user: OWNER.owner,
          userId: OWNER.ownerId,
          kind: 'gif',
          gif: 'dog-02.gif',
          toId: GUEST.ownerId,
          to: GUEST.owner,
        },
        { room: room.id, user: 'system', kind: 'system', chat: 'join' },
      ];

      const appended: Message[] = [];
      for (const draft of drafts) appended.push(await store.appendMessage(draft));

      appended.forEach((message, i) => {
        expect(message).toEqual({
          ...drafts[i],
          id: message.id,
          seq: i + 1,
          createdAt: message.createdAt,
        });
      });
      expect(await store.messagesAfter(room.id, 0, 100)).toEqual(appended);
    });

    it('hands out copies that do not change what it stores', async () => {
      const room = newRoom();
      await store.createRoom(room);
      const original = structuredClone(room);
      room.title = 'changed by the caller';
      room.kicked.push(OTHER.ownerId);

      const got = await store.getRoom(room.id);
      got!.ownerId = OTHER.ownerId;
      got!.kicked.push(GUEST.ownerId);
      const [listed] = await store.listRooms();
      listed!.title = 'changed in the list';
      listed!.kicked.push(GUEST.ownerId);
      expect(await store.getRoom(room.id)).toEqual(original);
      expect(await store.listRooms()).toEqual([original]);

      // A store hands out copies, or frozen messages (the memory store: one object for every
      // reader), whose change throws: either way what is stored stays as it was.
      const change = (apply: () => void) => {
        try {
          apply();
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
      };
      const appended = await store.appendMessage(chat(room.id, 'hello'));
      const kept = { ...appended };
      change(() => {
        appended.chat = 'changed';
        appended.seq = 42;
      });
      const [read] = await store.messagesAfter(room.id, 0, 100);
      change(() => {
        read!.chat = 'changed too';
      });
      expect(await store.messagesAfter(room.id, 0, 100)).toEqual([kept]);
    });

    it('removes a room with its messages and returns its GIF names', async () => {
      const room = newRoom();
      const other = newRoom();
      await store.createRoom(room);
      await store.createRoom(other);
      await store.appendMessage({ room: room.id, user: OWNER.owner, kind: 'gif', gif: 'one.gif' });
      await store.appendMessage(chat(room.id, 'hello'));
      await store.appendMessage({
        room: room.id,
        user: GUEST.owner,
        kind: 'gif',
        gif: 'two.gif',
        toId: OWNER.ownerId,
        to: OWNER.owner,
      });
      await store.appendMessage({
        room: other.id,
        user: OWNER.owner,
        kind: 'gif',
        gif: 'three.gif',
      });

      const removed = await store.removeRoom(room.id);

      expect(removed?.gifs.sort()).toEqual(['one.gif', 'two.gif']);
      expect(await store.getRoom(room.id)).toBeNull();
      expect(await store.messagesAfter(room.id, 0, 100)).toEqual([]);
      expect(await store.listRooms()).toEqual([other]);
      expect((await store.messagesAfter(other.id, 0, 100)).map((m) => m.gif)).toEqual([
        'three.gif',
      ]);
      expect(await store.removeRoom(room.id)).toBeNull();
    });

    it('gives null when removing an unknown room', async () => {
      expect(await store.removeRoom('nope')).toBeNull();
    });

    it('leaves no message behind when a room is removed during appends', async () => {
      const room = newRoom();
      await store.createRoom(room);

      const appends = oneTo(20).map((n) => store.appendMessage(chat(room.id, `m${n}`)));
      // Settled from the start: an append may fail (404) while the removal is still running.
      const settled = Promise.allSettled(appends);
      const removed = await store.removeRoom(room.id);
      const results = await settled;

      expect(removed).toEqual({ gifs: [] });
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).toMatchObject({ status: 404 });
      }
      expect(await store.messagesAfter(room.id, 0, 100)).toEqual([]);
      expect(await store.getRoom(room.id)).toBeNull();
    });

    // Only stores that persist (file, mongo) restart.
    if (options.restarts) {
      it('keeps rooms and messages across a restart', async () => {
        const a = newRoom({ passwordHash: 'scrypt$0a0b$0c0d' });
        const b = newRoom();
        const gone = newRoom();
        for (const room of [a, b, gone]) await store.createRoom(room);
        await store.setOwner(a.id, GUEST);
        await store.addKicked(a.id, OTHER.ownerId);
        const appended = [
          await store.appendMessage(chat(a.id, 'hello')),
          await store.appendMessage({
            room: a.id,
            user: GUEST.owner,
            userId: GUEST.ownerId,
            kind: 'gif',
            gif: 'cat.gif',
            toId: OWNER.ownerId,
            to: OWNER.owner,
          }),
          await store.appendMessage(chat(b.id, 'in b')),
          await store.appendMessage(chat(gone.id, 'soon gone')),
        ];
        await store.removeRoom(gone.id);
        const rooms = await store.listRooms();
        expect(rooms.map((room) => room.id)).toEqual([a.id, b.id]);

        await store.close();
        store = await fixture.reopen!();

        expect(await store.listRooms()).toEqual(rooms);
        expect(await store.getRoom(a.id)).toEqual({ ...a, ...GUEST, kicked: [OTHER.ownerId] });
        expect(await store.getRoom(gone.id)).toBeNull();
        expect(await store.messagesAfter(a.id, 0, 100)).toEqual(appended.slice(0, 2));
        expect(await store.messagesAfter(b.id, 0, 100)).toEqual(appended.slice(2, 3));
        expect(await store.messagesAfter(gone.id, 0, 100)).toEqual([]);
        expect(await store.lastSeq(a.id)).toBe(2);

        expect((await store.appendMessage(chat(a.id, 'again'))).seq).toBe(3);
        expect((await store.appendMessage(chat(b.id, 'again'))).seq).toBe(2);
        await expect(store.appendMessage(chat(gone.id, 'again'))).rejects.toMatchObject({
          status: 404,
        });
        const c = newRoom();
        await store.createRoom(c);
        expect((await store.listRooms()).map((room) => room.id)).toEqual([a.id, b.id, c.id]);
      });
    }
  });
}
