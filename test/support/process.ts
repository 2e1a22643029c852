import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/** `npm start`'s command (node with tsx, server.ts) as a child process. */
export function runServer(args: string[], env: Record<string, string> = {}): Watched {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watched(child);
}

/** A child process, its stdout and stderr gathered into one text, and its exit code. */
export interface Watched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function watched(child: ChildProcess): Watched {
  let output = '';
  const gather = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout!.on('data', gather);
  child.stderr!.on('data', gather);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => output, exited };
}

/** Starts the server process and waits for its `listening on` line. */
export async function startServerProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const run = runServer(['--port', '0', ...args], env);
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`no listening line in 45 s:\n${run.output()}`)),
      // A start costs about 2.5 s of CPU; on a busy machine the wall clock is many times that.
      45_000,
    );
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(run.output());
      if (match) {
        clearTimeout(timer);
        done(match[1]!);
      }
    };
    run.child.stdout!.on('data', check);
    run.exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`server exited (${code}):\n${run.output()}`));
    });
  });
  return {
    child: run.child,
    url,
    output: run.output,
    stop: async () => {
      run.child.kill('SIGTERM');
      return run.exited;
    },
  };
}
