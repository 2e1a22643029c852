/**
 * Lab 07: broken connections. The app on every transport, its data in data/labs/07 so that it
 * survives a restart, and a page with one pane per transport, each with a Drop button. In a
 * terminal, type `r` and Enter to restart the server: every pane notices, reconnects and catches
 * up by seq. `--heartbeat MS` shortens every transport's heartbeat to watch dead peers go.
 */
import { createInterface } from 'node:readline';
import { startLabApp } from '../shared/app.ts';

export async function main(args: string[], log: (line: string) => void = console.info) {
  const lab = await startLabApp(
    args,
    { name: '07-broken-connections', transport: 'all', store: 'file', page: 'four-ways' },
    log,
  );
  if (!process.stdin.isTTY) return lab;
  log('type r and Enter to restart the server (Ctrl+C stops it)');
  const terminal = createInterface({ input: process.stdin });
  terminal.on('line', (line) => {
    if (line.trim() !== 'r') return;
    const started = Date.now();
    log('restarting: every connection is cut now');
    lab.restart().then(
      () => log(`restarted in ${Date.now() - started} ms; the clients reconnect by themselves`),
      (error: unknown) => console.error('the restart failed:', error),
    );
  });
  return {
    ...lab,
    close: () => {
      terminal.close();
      return lab.close();
    },
  };
}
