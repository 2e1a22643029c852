/**
 * The entry of each worker of `--workers N` (cluster.ts forks it with the primary's flags): the
 * whole app of server.ts, not listening, serving what the primary hands over.
 */
import { reportStartFailure, serveHandovers, serveShared, workerHeaders } from './cluster.ts';
import { optionsOrExit, startFailure, startServer, stopOnSignals } from './server.ts';

const options = optionsOrExit();
try {
  // Sticky: the primary listens and hands each connection over. Not sticky: every worker listens
  // on the one port, which node:cluster shares out.
  const running = await startServer({
    ...options,
    listen: !options.sticky,
    responseHeaders: workerHeaders(),
  });
  if (options.sticky) serveHandovers(running);
  else serveShared(running.port);
  stopOnSignals(running);
} catch (error) {
  const { status, message } = startFailure(error, options);
  reportStartFailure(status, message);
}
