/**
 * Bare long polling: `GET /poll/room/:id?after=N&wait=S` answers `{"events":[...],"cursor":C}` as
 * soon as the room has a message after N, or after S seconds (default 25) with none. Long polling
 * cannot work without the room's recent messages (they come between two polls), so each room
 * keeps its encoded events in an array; that is all. Run: `node --import tsx bench/baselines/polling.ts`.
 */
import type { ServerResponse } from 'node:http';
import type { Message } from '../../core/model.ts';
import { type BareTransport, chatEvent, roomOf, serveBare } from './common.ts';

interface Poll {
  res: ServerResponse;
  after: number;
  timer: NodeJS.Timeout;
}

/** Per room: every event encoded once (index = seq - 1), and the polls waiting for the next. */
const logs = new Map<string, string[]>();
const waiting = new Map<string, Set<Poll>>();
let eventsOut = 0;

function answer(res: ServerResponse, events: string[], cursor: number): void {
  eventsOut += events.length;
  const body = `{"events":[${events.join(',')}],"cursor":${cursor}}`;
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

const polling: BareTransport = {
  name: 'polling',
  route(req, res, url) {
    const room = roomOf(url.pathname, '/poll/room/');
    if (req.method !== 'GET' || room === undefined) return false;
    const log = logs.get(room) ?? [];
    logs.set(room, log);
    const after = Number(url.searchParams.get('after') ?? log.length);
    const wait = Number(url.searchParams.get('wait') ?? 25);
    if (log.length > after || wait === 0) {
      answer(res, log.slice(after), log.length);
      return true;
    }
    const polls = waiting.get(room) ?? new Set();
    waiting.set(room, polls);
    const poll: Poll = {
      res,
      after,
      timer: setTimeout(() => {
        polls.delete(poll);
        answer(res, [], after);
      }, wait * 1000),
    };
    polls.add(poll);
    res.once('close', () => {
      clearTimeout(poll.timer);
      polls.delete(poll);
    });
    return true;
  },
  publish(message: Message) {
    const log = logs.get(message.room) ?? [];
    logs.set(message.room, log);
    log.push(chatEvent(message));
    const polls = waiting.get(message.room);
    if (!polls) return;
    waiting.delete(message.room);
    for (const poll of polls) {
      clearTimeout(poll.timer);
      answer(poll.res, log.slice(poll.after), log.length);
    }
  },
  connections: () => [...waiting.values()].reduce((sum, polls) => sum + polls.size, 0),
  eventsOut: () => eventsOut,
};

await serveBare(polling);
