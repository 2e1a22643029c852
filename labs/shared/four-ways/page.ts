import {
  type Message,
  type SystemEventType,
  TRANSPORT_NAMES,
  type TransportName,
} from '../../../core/model.ts';
import { createClient } from '../../../transports/clients.ts';
import {
  failureText,
  gifImage,
  isSystemMessage,
  pageLanguage,
  say,
  systemLine,
} from '../../../web/views/dom.ts';
import type { MessageKey } from '../../../web/views/i18n/index.ts';

/**
 * Labs 07 and 08: one room, one pane per running transport, each pane its own ChatClient (the
 * clients the app's chat page uses, from transports/<name>/client.ts). A pane shows what its
 * client received, by seq, and checks it: nothing missing, nothing twice. User text only ever goes
 * in as text. Every sentence is the app's catalogue's (`labs.fourWays.*`), in `<html lang>`'s
 * language, as the app's page scripts say theirs.
 */

const panes = document.getElementById('panes') as HTMLElement;
const pageError = document.getElementById('page-error') as HTMLElement;

try {
  // A session first (PROTOCOL.md, Identity): every pane's client sends its cookie.
  await fetch('/api/me');
  const transports = await runningTransports();
  const room = new URLSearchParams(location.search).get('room') ?? (await createRoom());
  (document.getElementById('room') as HTMLElement).textContent = room;
  // The link to the other language was written before the room was made: it goes to this room too.
  const languageLink = document.querySelector<HTMLAnchorElement>('nav a[hreflang]');
  if (languageLink) {
    const query = new URLSearchParams(location.search);
    query.set('lang', languageLink.hreflang);
    languageLink.search = query.toString();
  }
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
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      // A refusal's sentence in the page's language.
      'accept-language': pageLanguage(),
    },
    body: JSON.stringify({ title: say('labs.fourWays.roomTitle'), max: 10 }),
  });
  const answer = (await response.json()) as { room?: { id: string }; error?: string };
  if (!answer.room) {
    throw new Error(answer.error ?? say('labs.fourWays.createFailed', { status: response.status }));
  }
  history.replaceState(null, '', `?room=${encodeURIComponent(answer.room.id)}`);
  return answer.room.id;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = '') {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text) made.textContent = text;
  return made;
}

/**
 * A catalogue sentence whose `{name}`s are elements: the translation puts them where its language
 * wants them, and the page script still holds each one to update.
 */
function sentenceWith(key: MessageKey, parts: Record<string, HTMLElement>): (Node | string)[] {
  return say(key)
    .split(/(\{\w+\})/)
    .filter((piece) => piece !== '')
    .map((piece) => parts[/^\{(\w+)\}$/.exec(piece)?.[1] ?? ''] ?? piece);
}

function pane(transport: TransportName, room: string): HTMLElement {
  const section = element('section', 'pane');
  section.dataset.transport = transport;
  const state = element('span', 'state', say('state.connecting'));
  const lastSeq = element('span', 'last-seq', '0');
  const reconnects = element('span', 'reconnects', '0');
  const check = element('span', 'check', say('labs.fourWays.nothingYet'));
  const drop = element('button', 'drop', say('labs.fourWays.drop'));
  drop.type = 'button';
  drop.title = say('labs.fourWays.dropTitle');
  const facts = element('p', 'facts');
  facts.append(...sentenceWith('labs.fourWays.facts', { state, lastSeq, reconnects }), ' ', drop);
  const checkLine = element('p', 'facts');
  checkLine.append(check);
  const problem = element('p', 'problem');
  const list = element('ol', 'messages');
  const form = element('form');
  const input = element('input');
  input.placeholder = say('labs.fourWays.placeholder', { transport });
  input.maxLength = 2000;
  form.append(input, element('button', '', say('labs.fourWays.send')));
  section.append(element('h2', '', transport), facts, checkLine, problem, list, form);

  const client = createClient(transport, { baseUrl: location.origin, language: pageLanguage() });
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
        ? say('labs.fourWays.allHere', { highest })
        : say('labs.fourWays.missing', {
            missing: missing.join(', ') || say('labs.fourWays.none'),
            twice,
          });
  };
  const show = (type: SystemEventType | 'chat', message: Message) => {
    if (seen.has(message.seq)) {
      twice += 1;
      verify();
      return;
    }
    seen.add(message.seq);
    list.append(messageItem(type, message));
    list.scrollTop = list.scrollHeight;
    verify();
  };
  for (const type of ['chat', 'join', 'exit', 'owner'] as const) {
    client.on(type, (message) => show(type, message));
  }
  client.on('state', (now) => {
    if (now === 'open') {
      if (opened) reopened += 1;
      opened = true;
    }
    state.textContent = say(`state.${now}`);
    state.dataset.state = now;
    reconnects.textContent = String(reopened);
  });
  client.on('error', (error) => {
    problem.textContent = error.message;
  });
  client.connectRoom(room, { after: 0 }).catch((error: unknown) => {
    problem.textContent = failureText(error, 'chat.cannotConnect');
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
        problem.textContent = failureText(error, 'labs.fourWays.sendFailed');
      },
    );
  });
  return section;
}

function messageItem(type: SystemEventType | 'chat', message: Message): HTMLLIElement {
  const system = isSystemMessage(message);
  const item = element('li', system ? 'system' : '');
  item.value = message.seq;
  item.dataset.seq = String(message.seq);
  const image = gifImage(message);
  if (image) {
    item.append(`${message.user}: `, image);
  } else {
    const text = system ? systemLine(type, message) : `${message.user}: ${message.chat ?? ''}`;
    item.textContent = message.to ? say('labs.fourWays.whisper', { text, to: message.to }) : text;
  }
  return item;
}
