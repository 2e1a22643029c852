/** The idle scenario: what open connections cost while nobody chats. */
import type { TransportName } from '../core/model.ts';
import { sleep } from './crowd.ts';
import { delta, perConnection } from './metrics.ts';
import type { Sizes } from './options.ts';
import { emptyReport, type Measurement, measurement, open, type Pair } from './window.ts';

/**
 * Idle connections, on several servers at once (each counts its own CPU, memory and bytes): open
 * half of them in rooms of `usersPerRoom`, let the joins settle, read the server's memory, open
 * the other half and read it again: the difference over the second half is the memory per
 * connection, free of what the first connections cost once (code compiled, heap grown). Then
 * watch a window in which nobody chats: one heartbeat period of the transport unless `--idle`
 * says otherwise, so that each connection re-polls or is pinged as often as in the long run.
 */
/** Past Node's 5 s `keepAliveTimeout` (every server under test keeps the default). */
const KEEP_ALIVE_MS = 5_500;

export async function runIdle(pairs: Pair[], sizes: Sizes): Promise<(Measurement | Error)[]> {
  const { connections, usersPerRoom } = sizes.idle;
  const half = Math.max(1, Math.round(connections / usersPerRoom / 2));
  const crowd = { rooms: half, usersPerRoom, senders: 0 };
  // A server that fails drops out; the others go on, in step.
  const failures: (Error | undefined)[] = pairs.map(() => undefined);
  const each = <T>(run: (pair: Pair, i: number) => Promise<T>) =>
    Promise.all(
      pairs.map(async (pair, i) => {
        if (failures[i]) return undefined;
        try {
          return await run(pair, i);
        } catch (error) {
          failures[i] = error instanceof Error ? error : new Error(String(error));
          return undefined;
        }
      }),
    );
  const warnings = await each((pair) => open(pair, sizes, crowd));
  // The crowd's sessions and rooms came over keep-alive HTTP requests: their sockets (a parser,
  // buffers, a timer each, some 2.5 KiB) would count as the connections' cost until they close.
  await sleep(KEEP_ALIVE_MS);
  const memory = async (pair: Pair) => {
    const heap = await pair.target.collectGarbage();
    return { heap, stats: await pair.target.stats() };
  };
  const middle = await each(memory);
  // Twice in a row with nothing in between: how far apart two reads of the same memory land.
  const again = await each(memory);
  await each(async (pair, i) =>
    warnings[i]!.push(...(await open(pair, sizes, { ...crowd, grow: true }))),
  );
  await sleep(KEEP_ALIVE_MS);
  const settled = await each(memory);
  const before = settled.map((m) => m?.stats);
  const walls: number[] = [];
  const after = await each(async (pair, i) => {
    const started = performance.now();
    await sleep(idleWindowMs(sizes, pair.target.transport));
    const stats = await pair.target.stats();
    walls[i] = performance.now() - started;
    return stats;
  });
  await each((pair) => pair.worker.run({ type: 'close' }));
  return pairs.map(({ target }, i) => {
    if (failures[i]) return failures[i];
    const server = delta(before[i]!, after[i]!, target.transport, target.overhead);
    const wallMs = walls[i]!;
    const report = emptyReport(wallMs);
    const result = measurement(
      target.transport,
      2 * half * usersPerRoom,
      { report, server, wallMs, readCpuUs: target.readCpuUs },
      warnings[i]!,
    );
    const seconds = wallMs / 1000;
    const grown = half * usersPerRoom;
    const m0 = middle[i]!;
    const m1 = again[i]!;
    const heapResolution = Math.max(HEAP_FLOOR, 2 * Math.abs(live(m1.heap) - live(m0.heap)));
    const rssResolution = Math.max(RSS_FLOOR, 2 * Math.abs(m1.stats.rssBytes - m0.stats.rssBytes));
    const heap = perConnection(
      live(settled[i]!.heap) - live(m1.heap),
      grown,
      heapResolution,
      'heap per connection',
    );
    const rss = perConnection(
      before[i]!.rssBytes - m1.stats.rssBytes,
      grown,
      rssResolution,
      'RSS per connection',
    );
    if (heap.tooSmall || rss.tooSmall) {
      result.tooSmall = {
        ...result.tooSmall,
        ...(heap.tooSmall ? { heap: heap.tooSmall } : {}),
        ...(rss.tooSmall ? { rss: rss.tooSmall } : {}),
      };
    }
    result.idle = {
      connections: before[i]!.transports[target.transport]?.connections ?? 0,
      rssPerConnection: rss.value,
      heapPerConnection: heap.value,
      resolution: {
        heapPerConnection: heapResolution / grown,
        rssPerConnection: rssResolution / grown,
      },
      cpuPercent: result.cpuPercent,
      requestsPerS: server.requests / seconds,
      // The transport's own endpoints: re-polls, pings; the stats reads are on the shared routes.
      bytesPerS: (server.transportIn + server.transportOut) / seconds,
    };
    return result;
  });
}

/**
 * Each transport's heartbeat period: the long poll's default `wait`, SSE's `: ping`, the ws ping,
 * Socket.IO's `pingInterval` (PROTOCOL.md and the libraries' defaults).
 */
export const HEARTBEAT_MS: Record<TransportName, number> = {
  polling: 25_000,
  sse: 15_000,
  ws: 30_000,
  socketio: 25_000,
};

export function idleWindowMs(sizes: Sizes, transport: TransportName): number {
  return sizes.idle.windowMs ?? HEARTBEAT_MS[transport];
}

/**
 * The least memory growth, over the whole second half, that counts: below it a difference is the
 * collector's or the allocator's (RSS moves by whole arenas), whatever two reads in a row say.
 */
const HEAP_FLOOR = 64 * 1024;
const RSS_FLOOR = 1024 * 1024;

/** Memory the process holds live after a full collection: the V8 heap and its external buffers. */
function live(memory: NodeJS.MemoryUsage): number {
  return memory.heapUsed + memory.external;
}
