import type {
  Member,
  MembersPayload,
  Message,
  SystemEventType,
  TransportName,
} from '../../../core/model.ts';
import { USER_PATTERN } from '../../../core/model.ts';
import { ClientError, type ClientState, errorFrom, readJson } from '../../../transports/client.ts';
import { createClient } from '../../../transports/clients.ts';
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
 * The chat page (the book's chat.html): history first, then live events, over the transport the
 * page names. Messages are placed by `seq` and shown once, whichever way they arrive (the stream,
 * or the answer to our own post). User text only ever goes in with textContent.
 */

const page = document.getElementById('chat-page') as HTMLElement;
const room = page.dataset.room ?? '';
/** Who this page's visitor is: their userId (their colour may be someone else's too). */
const me = page.dataset.userId ?? '';
let ownerId = page.dataset.ownerId ?? '';
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

/** The events a message comes as. */
type ChatEventType = 'chat' | SystemEventType;

const roomPath = `/room/${encodeURIComponent(room)}`;
const shown = new Set<number>();
let members: Member[] = [];
let whisperTo: Member | undefined;

paintSwatches();

const client = createClient(transport, { baseUrl: location.origin, language: pageLanguage() });
for (const type of ['chat', 'join', 'exit', 'owner'] as const) {
  client.on(type, (message) => showMessage(message, type));
}
client.on('members', showMembers);
client.on('state', showState);
client.on('kicked', () => leave(say('error.kicked')));
client.on('removeRoom', () => leave(say('chat.roomRemoved')));
client.on('error', (error) => showError(error.message));

showState('connecting');
client.connectRoom(room, { after: 0 }).catch((error: unknown) => {
  showState('closed');
  if (error instanceof ClientError && [401, 403, 404, 409].includes(error.status)) {
    leave(error.message);
  } else {
    showError(failureText(error, 'chat.cannotConnect'));
  }
});

chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = chatInput.value;
  if (text.trim() === '') return;
  client.send(text, whisperTo === undefined ? {} : { toId: whisperTo.userId }).then(
    (message) => {
      if (chatInput.value === text) chatInput.value = '';
      showError('');
      showMessage(message);
    },
    (error: unknown) => showError(failureText(error, 'chat.sendFailed')),
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
  const userId = target.closest<HTMLElement>('[data-user-id]')?.dataset.userId;
  const member = members.find((m) => m.userId === userId);
  if (!member || member.userId === me) return;
  if (target.closest('.kick')) {
    post(`${roomPath}/kick`, {
      body: JSON.stringify({ userId: member.userId }),
      headers: { 'content-type': 'application/json' },
    }).catch(showFailure);
  } else {
    chooseWhisper(member);
  }
});

whisperClear.addEventListener('click', () => chooseWhisper(undefined));

/**
 * A POST that answers JSON; throws a ClientError with the server's sentence on refusal, asked for
 * in the page's language (which `?lang=` may have made other than the browser's).
 */
async function post(path: string, init: { body: BodyInit; headers?: Record<string, string> }) {
  const response = await fetch(path, {
    method: 'POST',
    body: init.body,
    headers: { accept: 'application/json', 'accept-language': pageLanguage(), ...init.headers },
  });
  const answer = await readJson(response);
  if (!response.ok) throw errorFrom(response.status, answer);
  showError('');
  return answer;
}

function showFailure(error: unknown): void {
  showError(failureText(error, 'chat.requestFailed'));
}

/** Shows a message once; `type` is the event it came as (a post's own answer is a `chat`). */
function showMessage(message: Message, type: ChatEventType = 'chat'): void {
  if (shown.has(message.seq)) return;
  shown.add(message.seq);
  insertInOrder(chatList, messageItem(message, type), message.seq, (node) =>
    Number(node.dataset.seq),
  );
  scrollToNewest();
}

function messageItem(message: Message, type: ChatEventType): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.seq = String(message.seq);
  if (isSystemMessage(message)) {
    item.className = 'message system';
    item.textContent = systemLine(type, message);
    return item;
  }
  const mine = message.userId === me;
  item.className = `message ${mine ? 'mine' : 'theirs'}`;
  item.dataset.user = message.user;
  if (USER_PATTERN.test(message.user)) item.style.borderColor = message.user;

  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.append(userTag(message.user));
  if (message.toId !== undefined) {
    item.classList.add('whisper');
    const note = document.createElement('span');
    note.className = 'whisper-note';
    note.textContent = mine
      ? say('chat.whisperTo', { user: message.to ?? '' })
      : say('chat.whispersToYou');
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

  const image = gifImage(message);
  if (image) {
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

/**
 * The member list, by userId: two members of one colour are two rows, told apart by the start of
 * their userId; "you" is this visitor's userId, not their colour.
 */
function showMembers(payload: MembersPayload): void {
  members = payload.members;
  ownerId = payload.ownerId ?? '';
  page.dataset.ownerId = ownerId;
  const colours = new Map<string, number>();
  for (const member of members) colours.set(member.user, (colours.get(member.user) ?? 0) + 1);
  const items = members.map((member) => {
    const { userId, user } = member;
    const item = document.createElement('li');
    item.className = 'member';
    item.dataset.userId = userId;
    item.dataset.user = user;
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className = 'member-pick';
    pick.disabled = userId === me;
    pick.title = userId === me ? say('chat.memberYou') : say('chat.memberWhisper', { user });
    pick.append(userTag(user));
    if ((colours.get(user) ?? 0) > 1) pick.append(badge('twin', `·${userId.slice(0, 4)}`));
    item.append(pick);
    if (userId === ownerId) item.append(badge('owner', say('chat.badgeOwner')));
    if (userId === me) item.append(badge('you', say('chat.badgeYou')));
    if (userId === whisperTo?.userId) item.classList.add('selected');
    if (me === ownerId && userId !== me) {
      const kick = document.createElement('button');
      kick.type = 'button';
      kick.className = 'kick';
      kick.textContent = say('chat.kick');
      kick.title = say('chat.kickTitle', { user });
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

function chooseWhisper(member: Member | undefined): void {
  whisperTo = member;
  whisperBar.hidden = member === undefined;
  whisperTarget.replaceChildren(member === undefined ? '' : userTag(member.user));
  for (const item of membersList.querySelectorAll<HTMLElement>('.member')) {
    item.classList.toggle('selected', item.dataset.userId === member?.userId);
  }
  chatInput.placeholder =
    member === undefined
      ? say('chat.placeholder')
      : say('chat.placeholderWhisper', { user: member.user });
  chatInput.focus();
}

function showState(state: ClientState): void {
  if (!stateView) return;
  stateView.dataset.state = state;
  stateView.textContent = say(`state.${state}`);
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
