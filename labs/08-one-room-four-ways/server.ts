/**
 * Lab 08: one room joined from all four transports in one page. The app on every transport, and
 * a page (labs/shared/four-ways) with one pane per transport, each its own ChatClient.
 */
import { startLabApp } from '../shared/app.ts';

export function main(args: string[], log: (line: string) => void = console.info) {
  return startLabApp(
    args,
    { name: '08-one-room-four-ways', transport: 'all', store: 'memory', page: 'four-ways' },
    log,
  );
}
