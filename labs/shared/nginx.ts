import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { freePort } from './redis-server.ts';

/** Debian's nginx, if this machine has it (`.ci/run` installs it). */
export const NGINX_BINARY = findNginx();

/** The one line a lab or a test prints when there is no nginx. */
export const NO_NGINX =
  'nginx is not installed: install it with apt-get install -y nginx (lab 12 starts its own)';

function findNginx(): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return found.split('\n')[0] || undefined;
  } catch {
    return undefined;
  }
}

/** One `server` block of the proxy: a port, and whether it buffers whatever the app says. */
export interface ProxySite {
  port: number;
  /**
   * `true`: nginx ignores the app's `X-Accel-Buffering: no` and buffers the response as it does
   * by default (a proxy that does not know the header, or an app that forgets it); `false`: the
   * header is obeyed.
   */
  buffers: boolean;
}

export interface RunningNginx {
  /** The configuration it runs, as written (the lab prints where it is). */
  config: string;
  configPath: string;
  close(): Promise<void>;
}

/**
 * The configuration: nginx's defaults for a reverse proxy (`proxy_pass`, HTTP/1.0 to the app,
 * `proxy_buffering on`), plus what a WebSocket needs (HTTP/1.1 and the Upgrade headers, on `/ws`
 * and `/socket.io/`). Nothing else is tuned, so what the lab shows is what a plain nginx does.
 */
export function nginxConfig(dir: string, upstreamPort: number, sites: ProxySite[]): string {
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  const upgrade = (path: string) => `    location ${path} {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_read_timeout 120s;
    }`;
  const servers = sites.map(
    (site) => `  server {
    listen 127.0.0.1:${site.port};
${
  site.buffers
    ? '    # As a proxy that does not know the header: it buffers (proxy_buffering on, the default).\n    proxy_ignore_headers X-Accel-Buffering;\n'
    : "    # The app's X-Accel-Buffering: no is obeyed: SSE goes through as it is written.\n"
}    location / {
      proxy_pass ${upstream};
      proxy_set_header Host $http_host;
      proxy_read_timeout 120s;
    }
${upgrade('/ws')}
${upgrade('/socket.io/')}
  }`,
  );
  // Run as root (CI, containers), nginx would hand its workers to `nobody`, who cannot write here.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `# Written by realtime-lab's lab 12 (labs/shared/nginx.ts); nginx -p ${dir} -c nginx.conf
daemon off;
master_process off;
worker_processes 1;
${user}error_log ${join(dir, 'error.log')} warn;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
${servers.join('\n')}
}
`;
}

/** nginx in front of the app on `upstreamPort`, one server block per site, until `close()`. */
export async function startNginx(upstreamPort: number, sites: ProxySite[]): Promise<RunningNginx> {
  if (!NGINX_BINARY) throw new Error(NO_NGINX);
  const dir = await mkdtemp(join(tmpdir(), 'realtime-lab-nginx-'));
  await mkdir(join(dir, 'logs'));
  const config = nginxConfig(dir, upstreamPort, sites);
  const configPath = join(dir, 'nginx.conf');
  await writeFile(configPath, config);
  // A process group of its own: a Ctrl+C or a signal to the lab's group reaches the lab, which
  // stops nginx itself (so a stop that comes while nginx is starting is a stop, not a failure);
  // should the lab exit any other way, nginx goes with it.
  const child: ChildProcess = spawn(NGINX_BINARY, ['-p', dir, '-c', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const close = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(sites.map((site) => listening(site.port, child, () => output)));
  } catch (error) {
    await close();
    throw error;
  }
  return { config, configPath, close };
}

/** Resolves once `port` takes connections; fails if nginx exits first or after 10 s. */
async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${output()}`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}:\n${output()}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
