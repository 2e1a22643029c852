import { randomBytes } from 'node:crypto';
import { ChatError } from '../errors.ts';
import { userOf } from '../identity.ts';
import { logError } from '../log.ts';
import type { Members, MembershipEvents, MembershipOptions } from '../membership.ts';
import type { Member, UserId } from '../model.ts';
import { KEYS, redisUnreachable, type SharedRedis } from './shared.ts';

/**
 * How presence is kept alive across processes (PROTOCOL.md, Many processes): each process holds
 * its members with a lease it renews; one that dies stops renewing, and its members exit once the
 * lease runs out: within LEASE_MS + SWEEP_MS of its death (under 10 s) plus nothing, since the
 * lease already covers the grace. A member whose last subscription closed here is held for the
 * member grace only.
 */
const LEASE_MS = 8_000;
const RENEW_MS = 2_000;
const SWEEP_MS = 1_000;

/**
 * A subscription of a member opened (KEYS: members, arrivals, holders; ARGV: room, userId,
 * colour, holder field, lease end, max, deadline). 0 when the room is full, 1 for a new member, 2
 * for one already there (held by another process, or inside the grace), -1 past the deadline
 * (SharedRedis.deadline: the subscriber has had 503, so nobody may join in their name). Capacity
 * is decided here, once, for every process.
 */
const JOIN = `
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 > tonumber(ARGV[7]) then return {-1, 0} end
local room, userId = ARGV[1], ARGV[2]
if redis.call('HEXISTS', KEYS[1], userId) == 1 then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  return {2, redis.call('HLEN', KEYS[1])}
end
local count = redis.call('HLEN', KEYS[1])
if count >= tonumber(ARGV[6]) then return {0, count} end
redis.call('HSET', KEYS[1], userId, ARGV[3])
redis.call('ZADD', KEYS[2], redis.call('INCR', '${KEYS.arrivalCounter}'), userId)
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('SADD', '${KEYS.occupied}', room)
redis.call('ZREM', '${KEYS.empty}', room)
return {1, count + 1}
`;

/** A kick: the member leaves now, with every process's hold (same KEYS; ARGV: room, userId, now). */
const REMOVE = `
local room, userId = ARGV[1], ARGV[2]
if redis.call('HDEL', KEYS[1], userId) == 0 then return {0, redis.call('HLEN', KEYS[1])} end
redis.call('ZREM', KEYS[2], userId)
local holders = redis.call('HKEYS', KEYS[3])
for _, field in ipairs(holders) do
  if string.sub(field, 1, #userId + 1) == userId .. ' ' then redis.call('HDEL', KEYS[3], field) end
end
local count = redis.call('HLEN', KEYS[1])
if count == 0 then
  redis.call('SREM', '${KEYS.occupied}', room)
  redis.call('ZADD', '${KEYS.empty}', ARGV[3], room)
end
return {1, count}
`;

/**
 * Every process runs this each SWEEP_MS, and whichever runs first decides (ARGV: now, the
 * empty-room grace): holds past their end go; a member with no hold left exits; a room left empty
 * starts its empty clock; a room empty for the grace is handed to exactly one caller. Returns the
 * exits (room, userId, colour, ...), the rooms to remove, and each occupied room's count.
 */
const SWEEP = `
local now, grace = tonumber(ARGV[1]), tonumber(ARGV[2])
local exits, counts = {}, {}
for _, room in ipairs(redis.call('SMEMBERS', '${KEYS.occupied}')) do
  local members, arrivals, holders =
    'rl:room:' .. room .. ':members', 'rl:room:' .. room .. ':arrivals', 'rl:room:' .. room .. ':holders'
  local held = {}
  local fields = redis.call('HGETALL', holders)
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) <= now then
      redis.call('HDEL', holders, fields[i])
    else
      held[string.match(fields[i], '^(%S+)')] = true
    end
  end
  local present = redis.call('HGETALL', members)
  for i = 1, #present, 2 do
    if not held[present[i]] then
      redis.call('HDEL', members, present[i])
      redis.call('ZREM', arrivals, present[i])
      table.insert(exits, room)
      table.insert(exits, present[i])
      table.insert(exits, present[i + 1])
    end
  end
  local count = redis.call('HLEN', members)
  if count == 0 then
    redis.call('SREM', '${KEYS.occupied}', room)
    redis.call('ZADD', '${KEYS.empty}', now, room)
  end
  table.insert(counts, room)
  table.insert(counts, count)
end
local empty = redis.call('ZRANGEBYSCORE', '${KEYS.empty}', '-inf', now - grace)
for _, room in ipairs(empty) do redis.call('ZREM', '${KEYS.empty}', room) end
return {exits, empty, counts}
`;

/**
 * Renews every hold of this process (ARGV: lease end, process, then room, userId, colour for each
 * member it holds). A member the sweep let go while this process still held them (a lapse: Redis
 * was away longer than a lease) is a member again, past `max` if need be, since they never left:
 * returned, so their join is said again.
 */
const RENEW = `
local back = {}
for i = 3, #ARGV, 3 do
  local room, userId = ARGV[i], ARGV[i + 1]
  local members = 'rl:room:' .. room .. ':members'
  redis.call('HSET', 'rl:room:' .. room .. ':holders', userId .. ' ' .. ARGV[2], ARGV[1])
  if redis.call('HEXISTS', members, userId) == 0 then
    redis.call('HSET', members, userId, ARGV[i + 2])
    redis.call('ZADD', 'rl:room:' .. room .. ':arrivals', redis.call('INCR', '${KEYS.arrivalCounter}'), userId)
    redis.call('SADD', '${KEYS.occupied}', room)
    redis.call('ZREM', '${KEYS.empty}', room)
    table.insert(back, room)
    table.insert(back, userId)
  end
end
return back
`;

/** A room starts its empty clock unless it has members (a process that starts beside others). */
const TRACK = `
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('ZADD', '${KEYS.empty}', 'NX', ARGV[2], ARGV[1]) end
`;

/** The clock again, for a room still empty whose removal failed. */
const REARM = `
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('ZADD', '${KEYS.empty}', ARGV[2], ARGV[1]) end
`;

interface Held {
  member: Member;
  subscriptions: number;
  /** The first subscription's JOIN, which later ones of the same member wait for. */
  admitted: Promise<void>;
}

/**
 * Membership shared by every process through Redis (DESIGN.md, Growing past one machine). Each
 * process counts its own subscriptions per member and holds the member in Redis while it has one;
 * joins, capacity, exits and empty rooms are decided by scripts, so that each happens once for all
 * processes (the process whose script decided it calls `onJoin`, `onExit` or `onEmpty`). Counts
 * for pages and stats are this process's latest reading: at most a sweep old.
 */
export class SharedMembership implements Members {
  readonly #redis: SharedRedis;
  readonly #events: MembershipEvents;
  readonly #options: MembershipOptions;
  /** This process, in the holders' field names: `userId process`. */
  readonly #process = randomBytes(6).toString('base64url');
  readonly #held = new Map<string, Map<UserId, Held>>();
  #counts = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  /** No sweep before this time: after a (re)connect, every process first renews what it holds. */
  #sweepAfter = 0;
  #sweeping = false;

  constructor(redis: SharedRedis, events: MembershipEvents, options: MembershipOptions) {
    this.#redis = redis;
    this.#events = events;
    this.#options = options;
    const renew = setInterval(() => void this.#renew(), RENEW_MS);
    const sweep = setInterval(() => void this.#sweep(), SWEEP_MS);
    this.#timers.push(renew, sweep);
    for (const timer of this.#timers) timer.unref();
    redis.onReconnect(() => {
      this.#sweepAfter = Date.now() + LEASE_MS;
      void this.#renew();
    });
  }

  track(room: string): void {
    this.#script(TRACK, room, [room, String(Date.now())]).catch(() => undefined);
  }

  rearm(room: string): void {
    this.#script(REARM, room, [room, String(Date.now())]).catch(() => undefined);
  }

  forget(room: string): void {
    this.#held.delete(room);
    this.#counts.delete(room);
    const keys = [KEYS.members(room), KEYS.arrivals(room), KEYS.holders(room)];
    this.#redis
      .run((redis) =>
        redis
          .multi()
          .del(...keys)
          .srem(KEYS.occupied, room)
          .zrem(KEYS.empty, room)
          .exec(),
      )
      .catch(() => undefined);
  }

  async members(room: string): Promise<Member[]> {
    const replies = await this.#redis.run((redis) =>
      redis.multi().zrange(KEYS.arrivals(room), '0', '-1').hgetall(KEYS.members(room)).exec(),
    );
    const order = (replies?.[0]?.[1] as string[] | undefined) ?? [];
    const colours = (replies?.[1]?.[1] as Record<string, string> | undefined) ?? {};
    const members = order.flatMap((userId) =>
      colours[userId] === undefined ? [] : [{ userId, user: colours[userId]! }],
    );
    this.#counts.set(room, members.length);
    return members;
  }

  count(room: string): number {
    return this.#counts.get(room) ?? 0;
  }

  total(): number {
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    return total;
  }

  hasRoomFor(room: string, userId: UserId, max: number): boolean {
    return this.#held.get(room)?.has(userId) === true || this.count(room) < max;
  }

  async open(room: string, member: Member, max: number): Promise<void> {
    let held = this.#held.get(room);
    if (!held) {
      held = new Map();
      this.#held.set(room, held);
    }
    const present = held.get(member.userId);
    if (present) {
      present.subscriptions += 1;
      try {
        await present.admitted;
      } catch (error) {
        present.subscriptions -= 1;
        throw error;
      }
      return;
    }
    const entry: Held = {
      member: { userId: member.userId, user: member.user },
      subscriptions: 1,
      admitted: Promise.resolve(),
    };
    entry.admitted = this.#join(room, entry, max);
    held.set(member.userId, entry);
    try {
      await entry.admitted;
    } catch (error) {
      if (held.get(member.userId) === entry) held.delete(member.userId);
      throw error;
    }
  }

  close(room: string, userId: UserId): void {
    const held = this.#held.get(room);
    const entry = held?.get(userId);
    if (!held || !entry || entry.subscriptions === 0) return;
    entry.subscriptions -= 1;
    if (entry.subscriptions > 0) return;
    held.delete(userId);
    // Held for the grace only: the sweep lets them go after it, unless they come back.
    const end = String(Date.now() + this.#options.memberGraceMs);
    this.#redis
      .run((redis) => redis.hset(KEYS.holders(room), this.#field(userId), end))
      .catch(() => undefined);
  }

  async remove(room: string, userId: UserId): Promise<boolean> {
    this.#held.get(room)?.delete(userId);
    const [removed, count] = (await this.#script(REMOVE, room, [
      room,
      userId,
      String(Date.now()),
    ])) as [number, number];
    this.#counts.set(room, count);
    if (removed !== 1) return false;
    this.#events.onExit(room, { userId, user: userOf(userId) });
    return true;
  }

  /** Stops the clocks; what this process held is let go after the grace, as if each closed. */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    const end = String(Date.now() + this.#options.memberGraceMs);
    const batch = this.#redis.command.multi();
    for (const [room, held] of this.#held) {
      for (const userId of held.keys()) batch.hset(KEYS.holders(room), this.#field(userId), end);
    }
    this.#held.clear();
    await this.#redis.run(() => batch.exec()).catch(() => undefined);
  }

  async #join(room: string, entry: Held, max: number): Promise<void> {
    const { userId, user } = entry.member;
    const end = String(Date.now() + LEASE_MS);
    const [outcome, count] = (await this.#script(JOIN, room, [
      room,
      userId,
      user,
      this.#field(userId),
      end,
      String(max),
      this.#redis.deadline(),
    ])) as [number, number];
    if (outcome === -1) throw redisUnreachable();
    this.#counts.set(room, count);
    if (outcome === 0) throw new ChatError(409, 'The room is full.', { code: 'roomFull' });
    if (outcome === 1) this.#events.onJoin(room, entry.member);
  }

  /** Every member this process holds, held for another lease (see RENEW). */
  async #renew(): Promise<void> {
    if (this.#held.size === 0 || !this.#redis.ready) return;
    const args = [String(Date.now() + LEASE_MS), this.#process];
    for (const [room, held] of this.#held) {
      for (const [userId, entry] of held) args.push(room, userId, entry.member.user);
    }
    try {
      const back = (await this.#redis.run((redis) => redis.eval(RENEW, 0, ...args))) as string[];
      for (let i = 0; i < back.length; i += 2) {
        const entry = this.#held.get(back[i]!)?.get(back[i + 1]!);
        if (entry) this.#events.onJoin(back[i]!, entry.member);
      }
    } catch {
      // Redis is away: the next renewal, after it is back, holds them again.
    }
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping || !this.#redis.ready || Date.now() < this.#sweepAfter) return;
    this.#sweeping = true;
    try {
      const [exits, empty, counts] = (await this.#redis.run((redis) =>
        redis.eval(SWEEP, 0, String(Date.now()), String(this.#options.emptyRoomGraceMs)),
      )) as [string[], string[], (string | number)[]];
      const fresh = new Map<string, number>();
      for (let i = 0; i < counts.length; i += 2)
        fresh.set(String(counts[i]), Number(counts[i + 1]));
      this.#counts = fresh;
      for (let i = 0; i < exits.length; i += 3) {
        this.#events.onExit(exits[i]!, { userId: exits[i + 1]!, user: exits[i + 2]! });
      }
      for (const room of empty) this.#events.onEmpty(room);
    } catch (error) {
      if (!(error instanceof ChatError)) logError('sweeping presence', error);
    } finally {
      this.#sweeping = false;
    }
  }

  #field(userId: UserId): string {
    return `${userId} ${this.#process}`;
  }

  #script(script: string, room: string, args: string[]): Promise<unknown> {
    const keys = [KEYS.members(room), KEYS.arrivals(room), KEYS.holders(room)];
    return this.#redis.run((redis) => redis.eval(script, keys.length, ...keys, ...args));
  }
}
