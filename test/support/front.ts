import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP front on a free port of 127.0.0.1 that forwards every connection to one server and can be
 * pointed at another: what a load balancer's failover (or a DNS change) does when a server dies.
 * It stands in for the load balancer in tests that must know which process a client is on; the
 * product's own one-port front is `--workers` (test/cluster.test.ts).
 */
export interface Front {
  url: string;
  /** Where new connections go from now on. */
  pointAt(url: string): void;
  close(): Promise<void>;
}

export async function startFront(target: string): Promise<Front> {
  let port = Number(new URL(target).port);
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port: own } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${own}`,
    pointAt: (url) => {
      port = Number(new URL(url).port);
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
