/**
 * Preloaded into every server under test, which runs with `--expose-gc`: on SIGUSR2 it runs a full
 * garbage collection and prints one line, `bench-memory {...process.memoryUsage()}`, so that the
 * idle scenario reads the memory connections hold, not the garbage their setup left behind.
 * Nothing else changes in the server.
 */
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`bench-memory ${JSON.stringify(process.memoryUsage())}\n`);
});
