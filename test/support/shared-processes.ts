import { type Session, sessionOf } from './http.ts';
import { type ServerProcess, startServerProcess } from './process.ts';
import type { RedisServer } from './redis.ts';

/**
 * `count` real `npm start` processes with `--store redis` on one Redis and one COOKIE_SECRET
 * (PROTOCOL.md, Many processes), started at once; `extra` flags for all of them.
 */
export function sharedProcesses(
  redis: RedisServer,
  count: number,
  extra: string[] = [],
): Promise<ServerProcess[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startServerProcess(
        [
          ...['--store', 'redis', '--redis-url', redis.url],
          // Rooms stay while a case needs them, unless the case says otherwise.
          ...(extra.includes('--empty-room-grace') ? [] : ['--empty-room-grace', '600000']),
          ...extra,
        ],
        { COOKIE_SECRET: 'shared-processes-secret-shared-processes-secret' },
      ),
    ),
  );
}

/** The same session (cookie) on another process. */
export function on(process: ServerProcess, session: Session): Session {
  return sessionOf(process.url, session, session.cookie);
}
