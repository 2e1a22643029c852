import type { Message, TransportName } from '../../../core/model.ts';
import { TRANSPORT_NAMES } from '../../../core/model.ts';
import {
  type ChatClient,
  type ClientState,
  postChat,
  readJson,
} from '../../../transports/client.ts';
import { createClient } from '../../../transports/clients.ts';
import { failureText, pageLanguage, paintSwatches, say } from '../dom.ts';
import { renderSection } from '../wire-dump.ts';
import type { Report } from '../wire-report.ts';

/**
 * The inspector (`/inspect`, issue 17): a trace token for this page, one client per running
 * transport carrying it, and one message at a time sent by `POST /room/:id/chat` (traced too).
 * Once every pane got it, the page reads /api/stats and the captures, and shows in each pane the
 * bytes that carried the message down and up, beside what /api/stats counted meanwhile.
 */

/** Events must have stopped this long before a send, so the window holds the message alone. */
const QUIET_MS = 300;
const ARRIVAL_MS = 5000;

interface Pane {
  readonly name: TransportName;
  readonly element: HTMLElement;
  readonly client: ChatClient;
}

interface Stats {
  transports: Partial<Record<TransportName, { bytesOut: number }>>;
}

const root = document.getElementById('inspect-page') as HTMLElement;
const room = root.dataset.room ?? '';
const form = document.getElementById('inspect-form') as HTMLFormElement;
const input = document.getElementById('inspect-text') as HTMLInputElement;
const via = document.getElementById('inspect-via') as HTMLSelectElement;
const status = document.getElementById('inspect-status') as HTMLElement;
const errorLine = document.getElementById('inspect-error') as HTMLElement;
const names = (root.dataset.transports ?? '')
  .split(' ')
  .filter((name): name is TransportName => (TRANSPORT_NAMES as readonly string[]).includes(name));
const language = pageLanguage();
/** Which panes got each message, by id, from the first event on. */
const arrivals = new Map<string, Set<TransportName>>();
const waiters = new Set<() => void>();
let lastEventAt = 0;
let token = '';
let panes: Pane[] = [];

paintSwatches();
void start();

async function start(): Promise<void> {
  status.textContent = say('inspect.tracing');
  const response = await fetch('/api/traces', {
    method: 'POST',
    headers: { accept: 'application/json', 'accept-language': language },
  }).catch(() => null);
  const body = response ? ((await readJson(response)) as { token?: string; error?: string }) : null;
  if (!response?.ok || typeof body?.token !== 'string') {
    showError(say('inspect.traceFailed', { error: body?.error ?? String(response?.status ?? '') }));
    return;
  }
  token = body.token;
  panes = names.map((name) => openPane(name));
  status.textContent = say('inspect.waiting');
}

function openPane(name: TransportName): Pane {
  const element = root.querySelector<HTMLElement>(`.wire-pane[data-transport="${name}"]`)!;
  const client = createClient(name, { baseUrl: location.origin, language, trace: token });
  const pane = { name, element, client };
  client.on('state', (state) => showState(pane, state));
  for (const type of ['chat', 'join', 'exit', 'owner', 'members'] as const) {
    client.on(type, () => {
      lastEventAt = performance.now();
    });
  }
  client.on('chat', (message) => arrived(name, message));
  client.on('error', (error) => showError(failureText(error, 'client.lost')));
  client.connectRoom(room).catch((error: unknown) => showError(failureText(error, 'client.lost')));
  return pane;
}

function showState(pane: Pane, state: ClientState): void {
  const badge = pane.element.querySelector<HTMLElement>('.state')!;
  badge.dataset.state = state;
  badge.textContent = say(`state.${state}`);
}

function arrived(name: TransportName, message: Message): void {
  let seen = arrivals.get(message.id);
  if (!seen) {
    seen = new Set();
    arrivals.set(message.id, seen);
  }
  seen.add(name);
  for (const wake of [...waiters]) wake();
}

/** Resolves once every pane got `id`, or after ARRIVAL_MS: the panes that did not. */
function everyPaneGot(id: string): Promise<TransportName[]> {
  const missing = () => names.filter((name) => !arrivals.get(id)?.has(name));
  return new Promise((resolve) => {
    const done = () => {
      waiters.delete(check);
      clearTimeout(timer);
      resolve(missing());
    };
    const check = () => {
      if (missing().length === 0) done();
    };
    const timer = setTimeout(done, ARRIVAL_MS);
    waiters.add(check);
    check();
  });
}

async function quiet(): Promise<void> {
  for (;;) {
    const wait = lastEventAt + QUIET_MS - performance.now();
    if (wait <= 0 && panes.every((pane) => pane.client.state === 'open')) return;
    await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 50)));
  }
}

async function stats(): Promise<Stats> {
  const response = await fetch('/api/stats', { headers: { accept: 'application/json' } });
  return (await response.json()) as Stats;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text === '' || token === '') return;
  const button = form.querySelector('button')!;
  button.disabled = true;
  void send(text).finally(() => {
    button.disabled = false;
  });
});

async function send(text: string): Promise<void> {
  errorLine.hidden = true;
  status.textContent = say('inspect.sending');
  await quiet();
  const before = await stats();
  const up = panes.find((pane) => pane.name === via.value);
  let message: Message;
  try {
    message = up
      ? await up.client.send(text)
      : await postChat({ language, trace: token }, room, text);
  } catch (error) {
    showError(failureText(error, 'client.lost'));
    return;
  }
  input.value = '';
  status.textContent = say('inspect.reading', { seq: message.seq });
  const missing = await everyPaneGot(message.id);
  const after = await stats();
  const response = await fetch(`/api/traces/${token}?message=${encodeURIComponent(message.id)}`, {
    headers: { accept: 'application/json', 'accept-language': language },
  });
  const report = (await readJson(response)) as Report & { error?: string };
  if (!response.ok) {
    showError(report?.error ?? String(response.status));
    return;
  }
  for (const pane of panes) {
    const out =
      (after.transports[pane.name]?.bytesOut ?? 0) - (before.transports[pane.name]?.bytesOut ?? 0);
    // Sent over this pane's own socket: it also wrote the acknowledgement.
    const ack = pane === up ? (report.up?.bytesDown ?? 0) : 0;
    showPane(pane, report, out, ack);
  }
  status.textContent =
    missing.length === 0
      ? say('inspect.shown', { seq: message.seq })
      : say('inspect.notEveryPane', { seq: message.seq, missing: missing.join(', ') });
}

function showPane(pane: Pane, report: Report, statsOut: number, ack: number): void {
  const down = pane.element.querySelector<HTMLElement>('[data-section="down"]')!;
  const up = pane.element.querySelector<HTMLElement>('[data-section="up"]')!;
  const delivery = report.panes.find((shown) => shown.transport === pane.name)?.delivery ?? null;
  const total = down.querySelector<HTMLElement>('[data-part="total"]')!;
  const check = down.querySelector<HTMLElement>('[data-check]')!;
  const figure = down.querySelector<HTMLElement>('[data-figure="stats-out"]')!;
  figure.textContent = String(statsOut);
  figure.dataset.bytes = String(statsOut);
  const dump = down.querySelector<HTMLElement>('.dump')!;
  if (delivery) {
    total.dataset.bytes = String(delivery.bytesDown);
    total.textContent = String(delivery.bytesDown);
    const agree = delivery.bytesDown + ack === statsOut;
    const withAck = down.querySelector<HTMLElement>('.ack')!;
    withAck.hidden = ack === 0;
    withAck.querySelector<HTMLElement>('[data-figure="ack"]')!.textContent = String(ack);
    check.dataset.check = agree ? 'same' : 'different';
    check.textContent = say(agree ? 'inspect.agree' : 'inspect.disagree');
    renderSection(dump, delivery);
  } else {
    total.dataset.bytes = '';
    total.textContent = '–';
    check.dataset.check = '';
    check.textContent = '';
    dump.textContent = say('inspect.notSeen');
  }
  const upTotal = up.querySelector<HTMLElement>('[data-part="up-total"]')!;
  const upDump = up.querySelector<HTMLElement>('.dump')!;
  if (report.up) {
    const bytes = report.up.bytesUp + report.up.bytesDown;
    upTotal.dataset.bytes = String(bytes);
    upTotal.textContent = String(bytes);
    renderSection(upDump, report.up);
    const split = document.createElement('p');
    split.className = 'hint';
    split.textContent = say(
      report.up.exchange.upgrade ? 'inspect.upSplitFrames' : 'inspect.upSplit',
      {
        up: report.up.bytesUp,
        down: report.up.bytesDown,
      },
    );
    upDump.prepend(split);
  } else {
    upTotal.dataset.bytes = '';
    upTotal.textContent = '–';
    upDump.textContent = say('inspect.notSeen');
  }
}

function showError(text: string): void {
  errorLine.textContent = text;
  errorLine.hidden = false;
}
