import type { MembersPayload, Message, TransportName } from '../../core/model.ts';
import { GIF_NAME_PATTERN, SYSTEM_USER, USER_PATTERN } from '../../core/model.ts';
import { ClientError, type ClientState, errorFrom, readJson } from '../../transports/client.ts';
import { createClient } from '../../transports/clients.ts';
import { paintSwatch, userTag } from '../dom.ts';

/**
 * The chat page (the book's chat.html): history first, then live events, over the transport the
 * page names. Messages are placed by `seq` and shown once, whichever way they arrive (the stream,
 * or the answer to our own post). User text only ever goes in with textContent.
 */

const page = document.getElementById('chat-page') as HTMLElement;
const room = page.dataset.room ?? '';
const me = page.dataset.user ?? '';
let owner = page.dataset.owner ?? '';
const transport = page.dataset.transport as TransportName;

const chatList = document.getElementById('chat-list') as HTMLOListElement;
const chatForm = document.getElementById('chat-form') as HTMLFormElement;
const chatInput = document.getElementById('chat') as HTMLInputElement;
const gifInput = document.getElementById('gif') as HTMLInputElement;
const membersList = document.getElementById('members') as HTMLUListElement;
const errorView = document.getElementById('chat-error') as HTMLElement;
const whisperBar = document.getElementById('whisper-bar') as HTMLElement;
const whisperTarget = document.getElementById('whisper-target') as HTMLElement;
const whisperClear = document.getElementById('whisper-clear') as HTMLButtonElement;
const stateView = document.getElementById('state');

const roomPath = `/room/${encodeURIComponent(room)}`;
const shown = new Set<number>();
let members: string[] = [];
let whisperTo: string | undefined;

for (const swatch of document.querySelectorAll<HTMLElement>('.swatch[data-color]')) {
  paintSwatch(swatch, swatch.dataset.color ?? '');
}

const client = createClient(transport, { baseUrl: location.origin });
for (const type of ['chat', 'join', 'exit', 'owner'] as const) client.on(type, showMessage);
client.on('members', showMembers);
client.on('state', showState);
client.on('kicked', () => leave('You were removed from this room by its owner.'));
client.on('removeRoom', () => leave('The room was removed.'));
client.on('error', (error) => showError(error.message));

showState('connecting');
client.connectRoom(room, { after: 0 }).catch((error: unknown) => {
  showState('closed');
  if (error instanceof ClientError && [401, 403, 404, 409].includes(error.status)) {
    leave(error.message);
  } else {
    showError(error instanceof Error ? error.message : 'Could not connect to the room.');
  }
});

chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = chatInput.value;
  if (text.trim() === '') return;
  client.send(text, whisperTo === undefined ? {} : { to: whisperTo }).then(
    (message) => {
      if (chatInput.value === text) chatInput.value = '';
      showError('');
      showMessage(message);
    },
    (error: unknown) => showError(error instanceof Error ? error.message : 'Sending failed.'),
  );
});

// As in the book: choosing a file uploads it at once.
gifInput.addEventListener('change', () => {
  const file = gifInput.files?.[0];
  if (!file) return;
  const body = new FormData();
  body.append('gif', file);
  gifInput.value = '';
  post(`${roomPath}/gif`, { body }).then((answer) => {
    const message = (answer as { message?: Message } | null)?.message;
    if (message) showMessage(message);
  }, showFailure);
});

membersList.addEventListener('click', (event) => {
  const target = event.target as HTMLElement;
  const member = target.closest<HTMLElement>('[data-user]')?.dataset.user;
  if (!member || member === me) return;
  if (target.closest('.kick')) {
    post(`${roomPath}/kick`, {
      body: JSON.stringify({ user: member }),
      headers: { 'content-type': 'application/json' },
    }).catch(showFailure);
  } else {
    chooseWhisper(member);
  }
});

whisperClear.addEventListener('click', () => chooseWhisper(undefined));

/** A POST that answers JSON; throws a ClientError with the server's sentence on refusal. */
async function post(path: string, init: { body: BodyInit; headers?: Record<string, string> }) {
  const response = await fetch(path, {
    method: 'POST',
    body: init.body,
    headers: { accept: 'application/json', ...init.headers },
  });
  const answer = await readJson(response);
  if (!response.ok) throw errorFrom(response.status, answer);
  showError('');
  return answer;
}

function showFailure(error: unknown): void {
  showError(error instanceof Error ? error.message : 'The request failed.');
}

function showMessage(message: Message): void {
  if (shown.has(message.seq)) return;
  shown.add(message.seq);
  const item = messageItem(message);
  // Insert in seq order: usually at the end, so walk back from there.
  let before: Element | null = null;
  for (let node = chatList.lastElementChild; node; node = node.previousElementSibling) {
    if (Number((node as HTMLElement).dataset.seq) < message.seq) break;
    before = node;
  }
  chatList.insertBefore(item, before);
  scrollToNewest();
}

function messageItem(message: Message): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.seq = String(message.seq);
  if (message.kind === 'system' || message.user === SYSTEM_USER) {
    item.className = 'message system';
    item.textContent = message.chat ?? '';
    return item;
  }
  item.className = `message ${message.user === me ? 'mine' : 'theirs'}`;
  item.dataset.user = message.user;
  if (USER_PATTERN.test(message.user)) item.style.borderColor = message.user;

  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.append(userTag(message.user));
  if (message.to !== undefined) {
    item.classList.add('whisper');
    const note = document.createElement('span');
    note.className = 'whisper-note';
    note.textContent =
      message.user === me ? `whisper to ${message.to}` : 'whispers to you (귓속말)';
    meta.append(note);
  }
  const time = document.createElement('time');
  time.dateTime = message.createdAt;
  time.textContent = new Date(message.createdAt).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
  });
  meta.append(time);
  item.append(meta);

  if (message.kind === 'gif' && message.gif && GIF_NAME_PATTERN.test(message.gif)) {
    const image = document.createElement('img');
    image.src = `/gif/${message.gif}`;
    image.alt = `GIF from ${message.user}`;
    image.addEventListener('load', scrollToNewest);
    item.append(image);
  } else {
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = message.chat ?? '';
    item.append(text);
  }
  return item;
}

function showMembers(payload: MembersPayload): void {
  members = payload.members;
  owner = payload.owner;
  page.dataset.owner = owner;
  const items = members.map((user) => {
    const item = document.createElement('li');
    item.className = 'member';
    item.dataset.user = user;
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className = 'member-pick';
    pick.disabled = user === me;
    pick.title = user === me ? 'You' : `Whisper to ${user}`;
    pick.append(userTag(user));
    item.append(pick);
    if (user === owner) item.append(badge('owner', '♛ owner'));
    if (user === me) item.append(badge('you', 'you'));
    if (user === whisperTo) item.classList.add('selected');
    if (me === owner && user !== me) {
      const kick = document.createElement('button');
      kick.type = 'button';
      kick.className = 'kick';
      kick.textContent = 'Kick';
      kick.title = `Remove ${user} from the room`;
      item.append(kick);
    }
    return item;
  });
  membersList.replaceChildren(...items);
}

function badge(kind: string, text: string): HTMLElement {
  const element = document.createElement('span');
  element.className = `badge ${kind}`;
  element.textContent = text;
  return element;
}

function chooseWhisper(user: string | undefined): void {
  whisperTo = user;
  whisperBar.hidden = user === undefined;
  whisperTarget.replaceChildren(user === undefined ? '' : userTag(user));
  for (const item of membersList.querySelectorAll<HTMLElement>('.member')) {
    item.classList.toggle('selected', item.dataset.user === user);
  }
  chatInput.placeholder = user === undefined ? 'Say something' : `Whisper to ${user}`;
  chatInput.focus();
}

function showState(state: ClientState): void {
  if (!stateView) return;
  stateView.dataset.state = state;
  stateView.textContent = state;
}

function showError(sentence: string): void {
  errorView.textContent = sentence;
  errorView.hidden = sentence === '';
}

function scrollToNewest(): void {
  chatList.scrollTop = chatList.scrollHeight;
}

function leave(sentence: string): void {
  client.close();
  location.assign(`/?error=${encodeURIComponent(sentence)}`);
}
