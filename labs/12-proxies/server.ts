/**
 * Lab 12: proxies. The app on every transport, and in front of it a real nginx (Debian's, started
 * by the lab with a configuration it writes) on two ports: one that obeys the app's
 * `X-Accel-Buffering: no`, where an SSE stream goes through as it is written, and one that ignores
 * it and buffers as nginx does by default, where the stream arrives in lumps of 4 KiB. Long
 * polling goes through both alike: each of its answers is a whole response. Open /compare on each.
 */
import { type LabApp, startLabApp } from '../shared/app.ts';
import {
  freePort,
  NGINX_BINARY,
  NO_NGINX,
  type RunningNginx,
  startNginx,
} from '../shared/nginx.ts';

export interface ProxiesLab extends LabApp {
  /** The app through nginx as it asks (real time), and through nginx that buffers; none without nginx. */
  proxies: { obeys: string; buffers: string } | undefined;
}

export async function main(
  args: string[],
  log: (line: string) => void = console.info,
): Promise<ProxiesLab> {
  const lab = await startLabApp(
    args,
    { name: '12-proxies', transport: 'all', store: 'memory' },
    log,
  );
  if (!NGINX_BINARY) {
    log(NO_NGINX);
    log('without it, this lab is the app alone; the README says what nginx would show');
    return { ...lab, proxies: undefined };
  }
  const appPort = lab.running().port;
  let ports: number[] = [];
  let started: RunningNginx | undefined;
  // Beside the app's port (8006 and 8007 for 8005); free ports when the app took one (--port 0),
  // which another process may take before nginx binds them: then nginx is tried on two others.
  for (let attempt = 1; !started; attempt += 1) {
    ports =
      lab.options.port === 0
        ? [await freePort(), await freePort()]
        : [lab.options.port + 1, lab.options.port + 2];
    try {
      started = await startNginx(appPort, [
        { port: ports[0]!, buffers: false },
        { port: ports[1]!, buffers: true },
      ]);
    } catch (error) {
      const taken = /Address already in use/.test(String(error));
      if (lab.options.port === 0 && taken && attempt < 3) continue;
      await lab.close();
      throw error;
    }
  }
  const nginx = started;
  const proxies = {
    obeys: `http://127.0.0.1:${ports[0]}`,
    buffers: `http://127.0.0.1:${ports[1]}`,
  };
  log(`through nginx, which obeys X-Accel-Buffering: no: ${proxies.obeys}/compare`);
  log(`through nginx, which buffers (ignores that header): ${proxies.buffers}/compare`);
  log(`nginx's configuration: ${nginx.configPath}`);
  return {
    ...lab,
    proxies,
    close: async () => {
      await nginx.close();
      await lab.close();
    },
  };
}
