import type { Message, TransportName } from '../../../core/model.ts';
import { TRANSPORT_NAMES, USER_PATTERN } from '../../../core/model.ts';
import type { ChatClient, ClientState } from '../../../transports/client.ts';
import { createClient } from '../../../transports/clients.ts';
import {
  drawChart,
  endpointOf,
  formatBytes,
  formatMs,
  type Gap,
  gapText,
  Ledger,
  median,
  type PaneRecord,
  scaleFor,
} from '../compare-figures.ts';
import {
  failureText,
  gifImage,
  insertInOrder,
  isSystemMessage,
  pageLanguage,
  paintSwatches,
  say,
  systemLine,
  userTag,
} from '../dom.ts';

/**
 * The compare page (PROTOCOL.md, Pages): one pane per running transport, each its own ChatClient
 * in the same room from `after: 0`. Every figure is measured here, on the page's one clock:
 * latency from handing a message to a client until each pane receives it; what each pane missed,
 * recovered after a gap, or was handed twice (counted before de-duplicating, so a real duplicate
 * shows). Server counters come from /api/stats, the page's own requests from resource timing.
 */

const OFFLINE_MS = 5000;
const BURST_SIZE = 100;
const STATS_EVERY_MS = 1000;
const STORED_TYPES = ['chat', 'join', 'exit', 'owner'] as const;

type PaneState = ClientState | 'offline';

interface Pane {
  readonly name: TransportName;
  readonly element: HTMLElement;
  readonly list: HTMLOListElement;
  readonly record: PaneRecord;
  client: ChatClient;
  detach: (() => void)[];
  state: PaneState;
  offlineUntil: number;
  sent: number;
  /** This page's requests to the transport's endpoints, from resource timing. */
  readonly fromPage: { requests: number; bytes: number };
  /** The worker that answered the last of them (Server-Timing `worker`, with --workers N). */
  worker: string | undefined;
}

interface Counters {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  connections?: number;
}

interface Stats {
  /** The process that answered: with --workers N, each poll may reach another. */
  worker?: number;
  transports: Partial<Record<TransportName, Counters>>;
  http?: Counters;
}

const root = document.getElementById('compare-page') as HTMLElement;
const room = root.dataset.room ?? '';
const me = root.dataset.userId ?? '';
const sendForm = document.getElementById('send-form') as HTMLFormElement;
const sendVia = document.getElementById('send-via') as HTMLSelectElement;
const sendText = document.getElementById('send-text') as HTMLInputElement;
const burstButton = document.getElementById('burst') as HTMLButtonElement;
const sendStatus = document.getElementById('send-status') as HTMLElement;
const upFigures = document.getElementById('up-figures') as HTMLElement;
const pageError = document.getElementById('compare-error') as HTMLElement;

const ledger = new Ledger();
/** Each gap's line in its pane's list. */
const gapNotes = new Map<Gap, HTMLLIElement>();
const postFromPage = { requests: 0, bytes: 0 };
/** Each worker's counters when this page first read them, and the latest. */
const samples = new Map<number, { baseline: Stats; latest: Stats }>();

paintSwatches();

const panes: Pane[] = [...document.querySelectorAll<HTMLElement>('.pane[data-transport]')]
  .filter((element) => TRANSPORT_NAMES.some((name) => name === element.dataset.transport))
  .map(paneOf);
const byName = new Map(panes.map((pane) => [pane.name, pane]));

watchResources();
// The server's counters are read once before the panes connect, so their connections count.
void pollStats().then(() => {
  for (const pane of panes) connect(pane, 0);
});

function paneOf(element: HTMLElement): Pane {
  const pane: Pane = {
    name: element.dataset.transport as TransportName,
    element,
    list: element.querySelector('.pane-messages') as HTMLOListElement,
    record: ledger.addPane(),
    client: undefined as unknown as ChatClient,
    detach: [],
    state: 'connecting',
    offlineUntil: 0,
    sent: 0,
    fromPage: { requests: 0, bytes: 0 },
    worker: undefined,
  };
  element.querySelector('[data-action="drop"]')?.addEventListener('click', () => {
    if (pane.state !== 'offline') pane.client.drop();
  });
  element.querySelector('[data-action="offline"]')?.addEventListener('click', () => {
    goOffline(pane);
  });
  return pane;
}

/** A fresh client for the pane, resuming after `after` (0: the whole history). */
function connect(pane: Pane, after: number): void {
  const client = createClient(pane.name, { baseUrl: location.origin, language: pageLanguage() });
  pane.client = client;
  pane.detach = [
    ...STORED_TYPES.map((type) => client.on(type, (message) => receive(pane, message, type))),
    client.on('state', (state) => changeState(pane, state)),
    client.on('error', (error) => showPaneError(pane, error.message)),
    client.on('kicked', () => endRoom(say('error.kicked'))),
    client.on('removeRoom', () => endRoom(say('chat.roomRemoved'))),
  ];
  client.connectRoom(room, { after }).catch((error: unknown) => {
    showPaneError(pane, failureText(error, 'chat.cannotConnect'));
    changeState(pane, 'closed');
  });
}

/** Closes the pane's client for OFFLINE_MS, then resumes from the last seq it saw. */
function goOffline(pane: Pane): void {
  if (pane.state === 'offline') return;
  for (const detach of pane.detach) detach();
  pane.client.close();
  pane.offlineUntil = performance.now() + OFFLINE_MS;
  changeState(pane, 'offline');
  setTimeout(() => connect(pane, pane.record.maxSeq), OFFLINE_MS);
}

function changeState(pane: Pane, state: PaneState): void {
  pane.state = state;
  const gap = ledger.connection(pane.record, state === 'open', performance.now());
  if (gap) {
    const note = document.createElement('li');
    note.className = 'gap-note';
    note.dataset.after = String(gap.afterSeq);
    note.textContent = gapText(pageLanguage(), gap);
    gapNotes.set(gap, note);
    place(pane, note, gap.afterSeq + 0.5);
  }
  schedule();
}

/** One stored event reaching a pane: counted and timed by the ledger, shown once. */
function receive(pane: Pane, message: Message, type: (typeof STORED_TYPES)[number]): void {
  const arrival = ledger.arrive(pane.record, message.seq, message.userId === me, performance.now());
  if (!arrival.duplicate) {
    place(pane, messageItem(message, type, arrival.recoveredIn !== undefined), message.seq);
  }
  schedule();
}

/** Hands `text` to the pane's client (POST, ws frame or Socket.IO emit); timed by its seq. */
async function sendThrough(pane: Pane, text: string): Promise<Message> {
  const sending = ledger.sending(performance.now());
  pane.sent += 1;
  try {
    const message = await pane.client.send(text);
    sending.confirmed(message.seq, performance.now());
    return message;
  } catch (error) {
    sending.failed();
    throw error;
  } finally {
    schedule();
  }
}

function chosenSender(): Pane | undefined {
  const pane = byName.get(sendVia.value as TransportName);
  if (!pane) return undefined;
  if (pane.state !== 'offline') return pane;
  sendStatus.textContent = say('compare.paneOffline', { name: pane.name });
  return undefined;
}

sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = sendText.value;
  const pane = chosenSender();
  if (text.trim() === '' || !pane) return;
  sendThrough(pane, text).then(
    (message) => {
      if (sendText.value === text) sendText.value = '';
      sendStatus.textContent = say('compare.sent', { seq: message.seq, name: pane.name });
    },
    (error: unknown) => {
      sendStatus.textContent = failureText(error, 'chat.sendFailed');
    },
  );
});

burstButton.addEventListener('click', async () => {
  const pane = chosenSender();
  if (!pane) return;
  burstButton.disabled = true;
  sendStatus.textContent = say('compare.sending', { count: BURST_SIZE, name: pane.name });
  const started = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: BURST_SIZE }, (_, i) =>
      sendThrough(pane, `burst ${i + 1}/${BURST_SIZE} via ${pane.name}`),
    ),
  );
  const failed = results.filter((result) => result.status === 'rejected').length;
  const took = formatMs(performance.now() - started);
  const burst = { name: pane.name, confirmed: BURST_SIZE - failed, took, failed };
  sendStatus.textContent = say(failed > 0 ? 'compare.burstFailed' : 'compare.burstDone', burst);
  burstButton.disabled = false;
});

function messageItem(
  message: Message,
  type: (typeof STORED_TYPES)[number],
  recovered: boolean,
): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.seq = String(message.seq);
  item.className = recovered ? 'pane-message recovered' : 'pane-message';
  const seq = document.createElement('span');
  seq.className = 'seq';
  seq.textContent = String(message.seq);
  item.append(seq);
  if (isSystemMessage(message)) {
    item.classList.add('system');
    item.append(systemLine(type, message));
    return item;
  }
  const image = gifImage(message);
  if (image) {
    item.append(userTag(message.user), image);
  } else {
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = message.chat ?? '';
    item.append(USER_PATTERN.test(message.user) ? userTag(message.user) : '', text);
  }
  return item;
}

/** Inserts in seq order (a gap's note sits just after the seq it was lost after). */
function place(pane: Pane, item: HTMLLIElement, key: number): void {
  const list = pane.list;
  const atBottom = isAtBottom(list);
  insertInOrder(list, item, key, ({ dataset }) =>
    dataset.seq !== undefined ? Number(dataset.seq) : Number(dataset.after) + 0.5,
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function isAtBottom(list: HTMLElement): boolean {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function showPaneError(pane: Pane, sentence: string): void {
  const view = pane.element.querySelector('.pane-error') as HTMLElement;
  view.textContent = sentence;
  view.hidden = sentence === '';
}

function endRoom(sentence: string): void {
  for (const pane of panes) {
    for (const detach of pane.detach) detach();
    pane.client.close();
    changeState(pane, 'closed');
  }
  pageError.textContent = sentence;
  pageError.hidden = false;
}

/** The page's own requests, by the transport whose endpoint they hit (WebSockets are not here). */
function watchResources(): void {
  if (typeof PerformanceObserver === 'undefined') return;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as PerformanceResourceTiming[]) {
      const endpoint = endpointOf(new URL(entry.name, location.href).pathname);
      const pane = endpoint && endpoint !== 'post' ? byName.get(endpoint) : undefined;
      const counter = endpoint === 'post' ? postFromPage : pane?.fromPage;
      if (!counter) continue;
      counter.requests += 1;
      counter.bytes += entry.transferSize;
      const worker = entry.serverTiming?.find((timing) => timing.name === 'worker');
      if (pane && worker?.description) pane.worker = worker.description;
    }
    schedule();
  });
  observer.observe({ type: 'resource', buffered: true });
  // Observers see every entry; the buffer itself need not keep them.
  performance.addEventListener('resourcetimingbufferfull', () =>
    performance.clearResourceTimings(),
  );
}

async function pollStats(): Promise<void> {
  try {
    const response = await fetch('/api/stats', {
      headers: { accept: 'application/json' },
      cache: 'no-store',
    });
    if (response.ok) {
      const latest = (await response.json()) as Stats;
      const worker = latest.worker ?? 0;
      samples.set(worker, { baseline: samples.get(worker)?.baseline ?? latest, latest });
      schedule();
    }
  } catch {
    // The server is away: the figures wait for it.
  }
  setTimeout(pollStats, STATS_EVERY_MS);
}

let scheduled = false;
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

function render(): void {
  scheduled = false;
  const now = performance.now();
  const scale = scaleFor(panes.map((pane) => pane.record.latencies));
  for (const pane of panes) {
    const { record, element } = pane;
    const stateView = element.querySelector('.state') as HTMLElement;
    stateView.dataset.state = pane.state;
    stateView.textContent =
      pane.state === 'offline'
        ? say('state.offlineFor', {
            seconds: Math.max(0, Math.ceil((pane.offlineUntil - now) / 1000)),
          })
        : say(`state.${pane.state}`);
    const workerView = element.querySelector<HTMLElement>('[data-worker]');
    if (workerView && pane.worker && workerView.dataset.worker !== pane.worker) {
      workerView.dataset.worker = pane.worker;
      workerView.textContent = say('compare.worker', { pid: pane.worker });
      workerView.hidden = false;
    }
    for (const button of element.querySelectorAll<HTMLButtonElement>('[data-action]')) {
      button.disabled = pane.state === 'offline';
    }
    const middle = median(record.latencies);
    const server = serverFigures((stats) => stats.transports[pane.name]);
    const resourceTimed = pane.name !== 'ws';
    showFigures(element, {
      'latency-last': record.lastLatency === undefined ? '–' : formatMs(record.lastLatency),
      'latency-median': middle === undefined ? '–' : formatMs(middle),
      'latency-count': record.latencies.length,
      'page-requests': resourceTimed ? pane.fromPage.requests : say('compare.notApplicable'),
      'page-bytes': formatBytes(pane.fromPage.bytes),
      reconnects: record.reconnects,
      sent: pane.sent,
      missed: record.missing.size,
      recovered: record.recovered,
      duplicated: record.duplicated,
      ...(server
        ? {
            'server-requests': server.requests,
            'server-bytes-in': formatBytes(server.bytesIn),
            'server-bytes-out': formatBytes(server.bytesOut),
            'server-connections': server.connections ?? '–',
          }
        : {}),
    });
    const healthy = record.missing.size === 0 && record.duplicated === 0;
    element.querySelector('.resume')?.classList.toggle('bad', !healthy);
    const check = element.querySelector<HTMLElement>('[data-check]');
    const verdict = checkText(record.seen.size, record.missing.size, record.duplicated);
    if (check && check.textContent !== verdict) check.textContent = verdict;
    const atBottom = isAtBottom(pane.list);
    for (const gap of record.gaps) {
      const note = gapNotes.get(gap);
      if (note && note.textContent !== gapText(pageLanguage(), gap))
        note.textContent = gapText(pageLanguage(), gap);
    }
    if (atBottom) pane.list.scrollTop = pane.list.scrollHeight;
    drawChart(element.querySelector('svg.latency-chart'), record.latencies, scale);
  }
  const shared = serverFigures((stats) => stats.http);
  showFigures(upFigures, {
    'post-requests': postFromPage.requests,
    'post-bytes': formatBytes(postFromPage.bytes),
    ...(shared
      ? {
          'http-requests': shared.requests,
          'http-bytes-in': formatBytes(shared.bytesIn),
          'http-bytes-out': formatBytes(shared.bytesOut),
        }
      : {}),
  });
}

/**
 * A server figure since this page first read it, summed over the workers that answered (one
 * without --workers): what each counted since then, and the connections each has open now.
 */
function serverFigures(pick: (stats: Stats) => Counters | undefined): Counters | undefined {
  let sum: Counters | undefined;
  for (const { baseline, latest } of samples.values()) {
    const [start, now] = [pick(baseline), pick(latest)];
    if (!start || !now) continue;
    sum ??= { requests: 0, bytesIn: 0, bytesOut: 0 };
    sum.requests += now.requests - start.requests;
    sum.bytesIn += now.bytesIn - start.bytesIn;
    sum.bytesOut += now.bytesOut - start.bytesOut;
    if (now.connections !== undefined) sum.connections = (sum.connections ?? 0) + now.connections;
  }
  return sum;
}

/** Writes each `[data-figure=key]` under `scope` that changed. */
function showFigures(scope: HTMLElement, figures: Record<string, string | number>): void {
  for (const [key, value] of Object.entries(figures)) {
    const view = scope.querySelector(`[data-figure="${key}"]`);
    if (view && view.textContent !== String(value)) view.textContent = String(value);
  }
}

/** The pane's check, in the words of the labs' four-ways page: what it has, against the others. */
function checkText(seen: number, missing: number, duplicated: number): string {
  if (missing === 0 && duplicated === 0) {
    return seen === 0 ? say('compare.nothingYet') : say('compare.allHere', { seen });
  }
  return say('compare.notAllHere', { missing, duplicated });
}
