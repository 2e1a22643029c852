import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type RunningServer, type ServerOptions, startServer as start } from '../../server.ts';
import { newSession, type Session } from './http.ts';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and removes its data dir (unless `keepData`). */
  close(): Promise<void>;
}

/**
 * The real server, in this process, on a free port of 127.0.0.1, with a fresh data dir. Tests
 * talk to it with real clients over real sockets. Its limits are on, as `npm start` has them; a
 * suite that is not about limits and whose sessions make more than a limit allows (more than 10
 * rooms a minute, say) passes `limits: false` (test/limits.test.ts tests the limits).
 */
export async function startServer(
  overrides: Partial<ServerOptions> & { keepData?: boolean } = {},
): Promise<TestServer> {
  const { keepData, ...rest } = overrides;
  const dataDir = rest.dataDir ?? (await mkdtemp(join(tmpdir(), 'realtime-lab-test-')));
  const running = await start({
    transport: 'all',
    port: 0,
    host: '127.0.0.1',
    store: 'memory',
    dataDir,
    mongoUrl: undefined,
    redisUrl: undefined,
    emptyRoomGraceMs: 60_000,
    allowedOrigins: [],
    allowedHosts: [],
    cookieSecret: 'test-secret-test-secret-test-secret',
    limits: true,
    workers: 1,
    sticky: true,
    ...rest,
  });
  return {
    ...running,
    dataDir,
    close: async () => {
      await running.close();
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A real server and one session of it for the enclosing describe: started before its cases,
 * closed after them. Read them as `suite.server` and `suite.session` inside the cases.
 */
export function serverForSuite(overrides: Parameters<typeof startServer>[0] = {}): {
  readonly server: TestServer;
  readonly session: Session;
} {
  const suite = {} as { server: TestServer; session: Session };
  beforeAll(async () => {
    suite.server = await startServer(overrides);
    suite.session = await newSession(suite.server.url);
  });
  afterAll(() => suite.server?.close());
  return suite;
}
