/**
 * `npm run bench`: every scenario against the lab's server and each transport's bare baseline,
 * with the transports' own clients in load generator processes; a progress line while it runs,
 * a table at the end and the results in bench/results. Exits 1 when a transport or scenario is
 * missing or a message was lost, repeated or reordered; 2 on a bad option.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { argv, exit } from 'node:process';
import type { TransportName } from '../core/model.ts';
import { UsageError } from '../flags.ts';
import { NO_REDIS, REDIS_INSTALLED, runCluster } from './cluster.ts';
import { runIdle } from './idle.ts';
import {
  type BenchOptions,
  CLUSTER_SETUPS,
  type PairedScenario,
  parseOptions,
  USAGE,
} from './options.ts';
import {
  type Pinning,
  pinning,
  startTarget,
  startWorker,
  type Target,
  type Variant,
  type Worker,
} from './processes.ts';
import { Progress } from './progress.ts';
import { terminalReport, writeResults } from './report.ts';
import { runPaired } from './scenarios.ts';
import { type Entry, type RunResults, summarize } from './summary.ts';
import { type Pair, Sides } from './window.ts';

const LIBRARIES = [
  'ws',
  'socket.io',
  'socket.io-client',
  'engine.io',
  'eventsource',
  'koa',
  'koa-session',
  '@koa/router',
  'autocannon',
  'hdr-histogram-js',
  'tsx',
];

async function main(): Promise<number> {
  const wall = performance.now();
  const args = argv.slice(2);
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.info(USAGE);
    return 0;
  }
  const noRedis = options.scenarios.includes('cluster') && !REDIS_INSTALLED;
  if (noRedis) {
    // Not a failure: the other scenarios need no Redis, and the bench goes on without it.
    console.info(NO_REDIS);
    options.scenarios = options.scenarios.filter((s) => s !== 'cluster');
  }
  const { pins, note } = pinning(options.pin);
  const paired = options.scenarios.filter((s) => s !== 'idle' && s !== 'cluster');
  const idle = options.scenarios.includes('idle');
  const cluster = options.scenarios.includes('cluster');
  const progress = new Progress(
    options.runs *
      ((idle ? 1 : 0) +
        options.transports.length * (paired.length + (cluster ? CLUSTER_SETUPS.length : 0))),
  );
  const workers = new Map<string, Worker>();
  await Promise.all([
    ...(idle || paired.length > 0 ? options.transports : []).flatMap((t) =>
      (['lab', 'bare'] as const).map(async (v) =>
        workers.set(`${t}/${v}`, await startWorker(pins)),
      ),
    ),
    cluster ? startWorker(pins).then((w) => workers.set('cluster', w)) : null,
  ]);
  const runs: RunResults[] = [];
  const date = new Date().toISOString();
  try {
    for (let run = 0; run < options.runs; run += 1) {
      runs.push(await runOnce(run, options, pins, workers, progress));
    }
  } finally {
    progress.finish();
    await Promise.all([...workers.values()].map((w) => w.stop()));
  }
  const results = summarize(runs, {
    schema: 2,
    date,
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    quick: options.quick,
    wallS: (performance.now() - wall) / 1000,
    machine: machine(),
    node: process.version,
    libraries: libraries(),
    pinning: note,
    pinned: pins !== null,
    runs: options.runs,
    transports: options.transports,
    scenarios: options.scenarios,
    sizes: options.sizes,
  });
  if (noRedis) results.notes.unshift(NO_REDIS);
  const files = await writeResults(options.out, results);
  console.info(terminalReport(results));
  console.info(`\nwrote ${files.join(', ')} in ${Math.round(results.wallS)} s`);
  if (results.problems.length === 0) return 0;
  console.error(`\nthe bench failed:\n${results.problems.map((p) => `  ${p}`).join('\n')}`);
  return 1;
}

/**
 * One run of every scenario. Idle runs first, on every server at once (each counts its own CPU,
 * memory and bytes, and the window is long). Then each transport, scenario by scenario, on the
 * lab's and the bare server at once, their windows in interleaved rounds (scenarios.ts; who goes
 * first alternates from round to round and from run to run). A full run starts fresh servers for
 * every scenario, so nothing one leaves behind (exits, timers, a grown heap) weighs on the next;
 * --quick keeps one server per transport and variant, and runs the transports side by side.
 */
async function runOnce(
  run: number,
  options: BenchOptions,
  pins: Pinning | null,
  workers: Map<string, Worker>,
  progress: Progress,
): Promise<RunResults> {
  const results: RunResults = {};
  const entry = (scenario: PairedScenario, transport: TransportName): Entry => {
    const byTransport = results[scenario] ?? {};
    results[scenario] = byTransport;
    const found = byTransport[transport] ?? { lab: null, bare: null, errors: [] };
    byTransport[transport] = found;
    return found;
  };
  const kept = new Map<string, Promise<Target>>();
  const target = (variant: Variant, transport: TransportName): Promise<Target> => {
    if (!options.quick) return startTarget(variant, transport, pins);
    const key = `${transport}/${variant}`;
    if (!kept.has(key)) kept.set(key, startTarget(variant, transport, pins));
    return kept.get(key)!;
  };
  const release = async (started: PromiseSettledResult<Target>[]) => {
    if (options.quick) return;
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
  };
  const failed = async (key: string, error: unknown) => {
    // The worker may still be busy with the failed job: start a new one.
    await workers.get(key)?.stop();
    workers.set(key, await startWorker(pins));
    return error instanceof Error ? error.message : String(error);
  };
  const order: Variant[] = run % 2 === 0 ? ['lab', 'bare'] : ['bare', 'lab'];

  if (options.scenarios.includes('idle')) {
    progress.step(`run ${run + 1}: idle, every transport at once`);
    const combos = options.transports.flatMap((t) => order.map((v) => ({ t, v })));
    const started = await Promise.allSettled(combos.map(({ t, v }) => target(v, t)));
    const pairs: Pair[] = [];
    started.forEach((s, i) => {
      const { t, v } = combos[i]!;
      if (s.status === 'fulfilled')
        pairs.push({ target: s.value, worker: workers.get(`${t}/${v}`)! });
      else entry('idle', t).errors.push(`${v}: ${s.reason}`);
    });
    const measured = await runIdle(pairs, options.sizes);
    for (const [i, pair] of pairs.entries()) {
      const { transport, variant } = pair.target;
      const result = measured[i]!;
      if (result instanceof Error) {
        entry('idle', transport).errors.push(
          `${variant}: ${await failed(`${transport}/${variant}`, result)}`,
        );
      } else {
        entry('idle', transport)[variant] = result;
      }
    }
    await release(started);
  }

  const runTransport = async (transport: TransportName) => {
    for (const scenario of options.scenarios) {
      if (scenario === 'idle' || scenario === 'cluster') continue;
      progress.step(`run ${run + 1}: ${scenario} · ${transport} · lab and bare in turn`);
      const found = entry(scenario, transport);
      const started = await Promise.allSettled(order.map((v) => target(v, transport)));
      const pairs = new Map<Variant, Pair>();
      for (const [i, variant] of order.entries()) {
        const server = started[i]!;
        if (server.status === 'rejected') found.errors.push(`${variant}: ${server.reason}`);
        else
          pairs.set(variant, {
            target: server.value,
            worker: workers.get(`${transport}/${variant}`)!,
          });
      }
      const sides = new Sides(transport, pairs);
      try {
        const result = await runPaired(scenario, sides, options.sizes, order);
        for (const [variant, m] of result.measurements) found[variant] = m;
        found.rounds = result.rounds;
      } catch (error) {
        for (const variant of sides.alive(order)) sides.failures.set(variant, error as Error);
      }
      for (const [variant, error] of sides.failures) {
        found[variant] = null;
        found.errors.push(`${variant}: ${await failed(`${transport}/${variant}`, error)}`);
      }
      // Stopped at once: their members' exits must not run beside the next scenario's windows.
      await release(started);
    }
  };
  // The cluster runs on a load generator of its own, after the other scenarios.
  const measureCluster = async () => {
    if (!options.scenarios.includes('cluster')) return;
    results.cluster = await runCluster(run, options, pins, progress, {
      get: () => workers.get('cluster')!,
      failed: (error) => failed('cluster', error),
    });
  };
  // --quick is a smoke test, not a measurement: its transports (and the cluster) run side by side
  // to stay short.
  if (options.quick) {
    await Promise.all([...options.transports.map(runTransport), measureCluster()]);
  } else {
    for (const transport of options.transports) await runTransport(transport);
    await measureCluster();
  }
  // A server that never started was reported already; the others stop now.
  await Promise.all([...kept.values()].map(async (t) => (await t.catch(() => null))?.stop()));
  return results;
}

function machine(): Record<string, string | number> {
  const limits = (() => {
    try {
      return /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '?';
    } catch {
      return '?';
    }
  })();
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: Number(os.loadavg()[0]!.toFixed(2)),
    openFilesLimit: limits,
  };
}

function libraries(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of LIBRARIES) {
    try {
      const path = new URL(`../node_modules/${name}/package.json`, import.meta.url);
      versions[name] = (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
    } catch {
      versions[name] = 'not installed';
    }
  }
  return versions;
}

exit(await main());
