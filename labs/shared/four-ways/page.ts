import {
  GIF_NAME_PATTERN,
  type Message,
  TRANSPORT_NAMES,
  type TransportName,
} from '../../../core/model.ts';
import { createClient } from '../../../transports/clients.ts';

/**
 * Labs 07 and 08: one room, one pane per running transport, each pane its own ChatClient (the
 * clients the app's chat page uses, from transports/<name>/client.ts). A pane shows what its
 * client received, by seq, and checks it: nothing missing, nothing twice. User text only ever goes
 * in as text.
 */

const panes = document.getElementById('panes') as HTMLElement;
const pageError = document.getElementById('page-error') as HTMLElement;

try {
  // A session first (PROTOCOL.md, Identity): every pane's client sends its cookie.
  await fetch('/api/me');
  const transports = await runningTransports();
  const room = new URLSearchParams(location.search).get('room') ?? (await createRoom());
  (document.getElementById('room') as HTMLElement).textContent = room;
  const links = document.getElementById('chat-links') as HTMLElement;
  for (const name of transports) {
    const link = document.createElement('a');
    link.href = `/room/${encodeURIComponent(room)}?transport=${name}`;
    link.target = '_blank';
    link.textContent = name;
    links.append(link);
    panes.append(pane(name, room));
  }
} catch (error) {
  pageError.hidden = false;
  pageError.textContent = error instanceof Error ? error.message : String(error);
}

async function runningTransports(): Promise<TransportName[]> {
  const stats = (await (await fetch('/api/stats')).json()) as { transports: object };
  return TRANSPORT_NAMES.filter((name) => name in stats.transports);
}

/** Without ?room=, a new room; its id goes in the address so a reload or a second tab joins it. */
async function createRoom(): Promise<string> {
  const response = await fetch('/room', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ title: 'one room, four ways', max: 10 }),
  });
  const answer = (await response.json()) as { room?: { id: string }; error?: string };
  if (!answer.room) throw new Error(answer.error ?? `POST /room answered ${response.status}`);
  history.replaceState(null, '', `?room=${encodeURIComponent(answer.room.id)}`);
  return answer.room.id;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = '') {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text) made.textContent = text;
  return made;
}

function pane(transport: TransportName, room: string): HTMLElement {
  const section = element('section', 'pane');
  section.dataset.transport = transport;
  const state = element('span', 'state', 'connecting');
  const lastSeq = element('span', 'last-seq', '0');
  const reconnects = element('span', 'reconnects', '0');
  const check = element('span', 'check', 'nothing yet');
  const drop = element('button', 'drop', 'Drop');
  drop.type = 'button';
  drop.title = 'End this connection as a network failure would';
  const facts = element('p', 'facts');
  facts.append('state ', state, ' · last seq ', lastSeq, ' · reconnects ', reconnects, ' ', drop);
  const checkLine = element('p', 'facts');
  checkLine.append(check);
  const problem = element('p', 'problem');
  const list = element('ol', 'messages');
  const form = element('form');
  const input = element('input');
  input.placeholder = `Say something over ${transport}`;
  input.maxLength = 2000;
  form.append(input, element('button', '', 'Send'));
  section.append(element('h2', '', transport), facts, checkLine, problem, list, form);

  const client = createClient(transport, { baseUrl: location.origin });
  const seen = new Set<number>();
  let twice = 0;
  let opened = false;
  let reopened = 0;

  const verify = () => {
    const highest = Math.max(0, ...seen);
    const missing: number[] = [];
    for (let seq = 1; seq <= highest; seq += 1) if (!seen.has(seq)) missing.push(seq);
    lastSeq.textContent = String(client.lastSeq);
    check.textContent =
      missing.length === 0 && twice === 0
        ? `seq 1 to ${highest}: all here, each once`
        : `missing ${missing.join(', ') || 'none'} (whispers between others are not for you); twice: ${twice}`;
  };
  const show = (message: Message) => {
    if (seen.has(message.seq)) {
      twice += 1;
      verify();
      return;
    }
    seen.add(message.seq);
    list.append(messageItem(message));
    list.scrollTop = list.scrollHeight;
    verify();
  };
  for (const type of ['chat', 'join', 'exit', 'owner'] as const) client.on(type, show);
  client.on('state', (now) => {
    if (now === 'open') {
      if (opened) reopened += 1;
      opened = true;
    }
    state.textContent = now;
    state.dataset.state = now;
    reconnects.textContent = String(reopened);
  });
  client.on('error', (error) => {
    problem.textContent = error.message;
  });
  client.connectRoom(room, { after: 0 }).catch((error: unknown) => {
    problem.textContent = error instanceof Error ? error.message : String(error);
  });

  drop.addEventListener('click', () => client.drop());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (text.trim() === '') return;
    client.send(text).then(
      () => {
        if (input.value === text) input.value = '';
        problem.textContent = '';
      },
      (error: unknown) => {
        problem.textContent = error instanceof Error ? error.message : 'Sending failed.';
      },
    );
  });
  return section;
}

function messageItem(message: Message): HTMLLIElement {
  const item = element('li', message.kind === 'system' ? 'system' : '');
  item.value = message.seq;
  item.dataset.seq = String(message.seq);
  if (message.kind === 'gif' && message.gif && GIF_NAME_PATTERN.test(message.gif)) {
    const image = element('img');
    image.src = `/gif/${message.gif}`;
    image.alt = `GIF from ${message.user}`;
    item.append(`${message.user}: `, image);
  } else {
    const text =
      message.kind === 'system' ? (message.chat ?? '') : `${message.user}: ${message.chat ?? ''}`;
    item.textContent = message.to ? `${text} (whisper to ${message.to})` : text;
  }
  return item;
}
