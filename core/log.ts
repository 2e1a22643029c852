import { debuglog } from 'node:util';

/**
 * Named loggers, quiet by default. `NODE_DEBUG=realtime-lab` (or `realtime-lab-sse`, ...) turns
 * them on. Errors that a person running the server must see go through `logError`.
 */
export function logger(name: string): (message: string, ...args: unknown[]) => void {
  return debuglog(name === 'realtime-lab' ? name : `realtime-lab-${name}`);
}

/** An unexpected error: its stack goes to the server's stderr, never to a client. */
export function logError(context: string, error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`[realtime-lab] ${context}: ${text}`);
}
