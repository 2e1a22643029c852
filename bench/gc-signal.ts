/**
 * Preloaded into every server under test, which runs with `--expose-gc`: on SIGUSR2 it runs a full
 * garbage collection and prints one line, `bench-memory {...process.memoryUsage()}`, so that the
 * idle scenario reads the memory connections hold, not the garbage their setup left behind.
 * With BENCH_HEAP=dir it first writes a heap snapshot there (`<BENCH_HEAP_NAME>-<n>.heapsnapshot`,
 * n counting from 1), for `bench/heap-diff.ts`. Nothing else changes in the server.
 */
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

let snapshots = 0;

process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const dir = process.env.BENCH_HEAP;
  if (dir) {
    snapshots += 1;
    const name = process.env.BENCH_HEAP_NAME ?? String(process.pid);
    writeHeapSnapshot(join(dir, `${name}-${snapshots}.heapsnapshot`));
  }
  process.stdout.write(`bench-memory ${JSON.stringify(process.memoryUsage())}\n`);
});
