/**
 * The entry of each worker of `--workers N` (cluster.ts forks it with the primary's flags): the
 * whole app of server.ts, not listening, serving what the primary hands over.
 */
import { reportStartFailure, serveHandovers, workerHeaders } from './cluster.ts';
import { optionsOrExit, startFailure, startServer, stopOnSignals } from './server.ts';

const options = optionsOrExit();
try {
  const running = await startServer({
    ...options,
    listen: false,
    responseHeaders: workerHeaders(),
  });
  serveHandovers(running);
  stopOnSignals(running);
} catch (error) {
  const { status, message } = startFailure(error, options);
  reportStartFailure(status, message);
}
