import { afterAll, beforeAll, describe } from 'vitest';
import { NO_REDIS, REDIS_BINARY, type RedisServer, startRedis } from '../../test/support/redis.ts';
import { SharedRedis } from '../redis/shared.ts';
import { RedisStore } from './redis.ts';
import { storeContract } from './store.contract.ts';

// Without redis-server every case here is skipped, with the one printed line saying why.
if (!REDIS_BINARY) console.info(NO_REDIS);

describe.skipIf(!REDIS_BINARY)('redis store', () => {
  let server: RedisServer;
  const opened: SharedRedis[] = [];
  beforeAll(async () => {
    server = await startRedis({ persistent: true });
  });
  afterAll(async () => {
    for (const redis of opened) await redis.close();
    await server.close();
  });
  const open = async () => {
    const redis = await SharedRedis.open(server.url);
    opened.push(redis);
    return new RedisStore(redis);
  };
  // Each case starts from an empty database, and its reopen is a new connection to the same one.
  storeContract(
    'redis',
    async () => {
      const store = await open();
      await opened.at(-1)!.command.flushdb();
      return { store, reopen: open, cleanup: async () => undefined };
    },
    { restarts: true },
  );
});
