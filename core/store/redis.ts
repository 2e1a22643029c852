import { ChatError } from '../errors.ts';
import type { Message, MessageDraft, StoredRoom, User, UserId } from '../model.ts';
import { randomId } from '../random-id.ts';
import { CHANNELS, KEYS, redisUnreachable, type SharedRedis } from '../redis/shared.ts';
import type { Store } from './store.ts';

/**
 * One message, in one step (Centrifugo's model): the room's counter gives the `seq`, the room's
 * stream stores the message under the id `seq-0`, and the message is published to every process,
 * so order, storage and fan-out cannot disagree. The message's JSON is made in JavaScript with
 * its `seq` left out (ARGV[2] and ARGV[3] are the text before and after it); the script only
 * puts the number in. Nil when the room does not exist.
 *
 * Past its deadline (SharedRedis.deadline: Redis answered too late, and the poster has had 503)
 * it stores nothing and answers -1.
 *
 * KEYS: the room's hash, counter, stream, GIF set. ARGV: head, tail, channel, the publication's
 * head, the GIF's file name ('' for none), the deadline.
 */
const APPEND = `
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 > tonumber(ARGV[6]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local seq = redis.call('INCR', KEYS[2])
local message = ARGV[1] .. seq .. ARGV[2]
redis.call('XADD', KEYS[3], seq .. '-0', 'm', message)
if ARGV[5] ~= '' then redis.call('SADD', KEYS[4], ARGV[5]) end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. message .. '}')
return seq
`;

/** A new room, unless its id is taken. KEYS: the room's hash, the order, the counter. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
return 1
`;

/** Removes a room and its messages once; the GIF names, or nil when it was gone already. */
const REMOVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local gifs = redis.call('SMEMBERS', KEYS[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[6], ARGV[1])
return gifs
`;

/** A kick, once, at the end of the room's kick list (only while the room exists). */
const KICK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 0 end
return redis.call('RPUSH', KEYS[2], ARGV[1])
`;

/** Where seq goes in a message's JSON: `{...draft, id, seq, createdAt}`, the memory store's order. */
const SEQ_SLOT = '"seq":0';

/**
 * `--store redis`: rooms and messages in the Redis every process shares (PROTOCOL.md, Many
 * processes). A room is a hash of its fields with its kick list as a list (so an owner change and a
 * kick on two processes at once cannot overwrite each other); its messages are a stream whose
 * entry ids are the seqs, so a resume is one XRANGE from `after + 1`. Appending also publishes
 * (see APPEND): `publishesMessages` tells the room log not to publish them again.
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  readonly publishesMessages = true;
  readonly #redis: SharedRedis;

  constructor(redis: SharedRedis) {
    this.#redis = redis;
  }

  async createRoom(room: StoredRoom): Promise<void> {
    const fields = Object.entries(roomFields(room)).flat();
    const created = await this.#redis.run((redis) =>
      redis.eval(
        CREATE,
        3,
        KEYS.room(room.id),
        KEYS.roomOrder,
        KEYS.roomCounter,
        room.id,
        ...fields,
      ),
    );
    if (created !== 1) throw new Error(`Room ${room.id} exists already.`);
    if (room.kicked.length > 0) {
      await this.#redis.run((redis) => redis.rpush(KEYS.kicked(room.id), ...room.kicked));
    }
  }

  async getRoom(id: string): Promise<StoredRoom | null> {
    const [room] = await this.#read([id]);
    return room ?? null;
  }

  async listRooms(): Promise<StoredRoom[]> {
    const ids = await this.#redis.run((redis) => redis.zrange(KEYS.roomOrder, '0', '-1'));
    return this.#read(ids);
  }

  async setOwner(id: string, owner: { owner: User; ownerId: UserId }): Promise<void> {
    // Only a room that exists: HSET on a removed room would bring back half of it.
    await this.#redis.run(async (redis) => {
      if (await redis.exists(KEYS.room(id))) {
        await redis.hset(KEYS.room(id), 'owner', owner.owner, 'ownerId', owner.ownerId);
      }
    });
  }

  async addKicked(id: string, userId: UserId): Promise<void> {
    await this.#redis.run((redis) => redis.eval(KICK, 2, KEYS.room(id), KEYS.kicked(id), userId));
  }

  async removeRoom(id: string): Promise<{ gifs: string[] } | null> {
    const keys = [KEYS.room(id), KEYS.kicked(id), KEYS.seq(id), KEYS.gifs(id), KEYS.log(id)];
    const gifs = await this.#redis.run(
      (redis) => redis.eval(REMOVE, 6, ...keys, KEYS.roomOrder, id) as Promise<string[] | null>,
    );
    return gifs ? { gifs } : null;
  }

  async appendMessage(draft: MessageDraft): Promise<Message> {
    const message: Message = {
      ...draft,
      id: randomId(),
      seq: 0,
      createdAt: new Date().toISOString(),
    };
    const json = JSON.stringify(message);
    const slot = json.lastIndexOf(SEQ_SLOT) + SEQ_SLOT.length - 1;
    const room = draft.room;
    const seq = await this.#redis.run(
      (redis) =>
        redis.eval(
          APPEND,
          4,
          KEYS.room(room),
          KEYS.seq(room),
          KEYS.log(room),
          KEYS.gifs(room),
          json.slice(0, slot),
          json.slice(slot + 1),
          CHANNELS.room,
          `{"room":${JSON.stringify(room)},"message":`,
          draft.kind === 'gif' ? (draft.gif ?? '') : '',
          this.#redis.deadline(),
        ) as Promise<number | null>,
    );
    if (seq === null)
      throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
    if (seq < 0) throw redisUnreachable();
    message.seq = seq;
    return message;
  }

  async messagesAfter(room: string, after: number, limit: number): Promise<Message[]> {
    if (limit <= 0) return [];
    const entries = await this.#redis.run((redis) =>
      redis.xrange(KEYS.log(room), `${Math.max(0, after) + 1}-0`, '+', 'COUNT', limit),
    );
    return entries.map(([, fields]) => JSON.parse(fields[1]!) as Message);
  }

  async lastSeq(room: string): Promise<number> {
    return Number((await this.#redis.run((redis) => redis.get(KEYS.seq(room)))) ?? 0);
  }

  /** The connection is the server's (SharedRedis), closed by whoever opened it. */
  async close(): Promise<void> {}

  async #read(ids: string[]): Promise<StoredRoom[]> {
    if (ids.length === 0) return [];
    const replies = await this.#redis.run((redis) => {
      const batch = redis.multi();
      for (const id of ids) batch.hgetall(KEYS.room(id)).lrange(KEYS.kicked(id), 0, -1);
      return batch.exec();
    });
    const rooms: StoredRoom[] = [];
    ids.forEach((id, i) => {
      const fields = replies?.[2 * i]?.[1] as Record<string, string> | undefined;
      const kicked = (replies?.[2 * i + 1]?.[1] as string[] | undefined) ?? [];
      if (fields?.title !== undefined) rooms.push(roomOf(id, fields, kicked));
    });
    return rooms;
  }
}

/** A room as the hash's fields: every value a string, `''` for a missing hash or owner. */
function roomFields(room: StoredRoom): Record<string, string> {
  return {
    title: room.title,
    max: String(room.max),
    owner: room.owner,
    ownerId: room.ownerId ?? '',
    passwordHash: room.passwordHash ?? '',
    createdAt: room.createdAt,
  };
}

function roomOf(id: string, fields: Record<string, string>, kicked: string[]): StoredRoom {
  return {
    id,
    title: fields.title!,
    max: Number(fields.max),
    owner: fields.owner!,
    ownerId: fields.ownerId || null,
    passwordHash: fields.passwordHash || null,
    kicked,
    createdAt: fields.createdAt!,
  };
}
