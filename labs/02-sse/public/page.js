// Lab 02: the clock comes down one long response. EventSource reconnects by itself and sends the
// last id it saw as Last-Event-ID; the server replays what was missed (marked "replayed").

/** What the script writes, in the page's language (index.html or index.ko.html). */
const WORDS = {
  en: {
    open: 'open',
    reconnecting: 'lost: reconnecting by itself…',
    closed: 'closed',
    tick: (id, time) => `tick ${id} at ${time}`,
    replayedTick: (id, time) => `tick ${id} at ${time} (replayed after a reconnect)`,
    note: (text) => `note, pushed down the stream: ${text}`,
    noSend: (type) => `source.send is ${type}: sending with POST /note instead.`,
  },
  ko: {
    open: '연결됨',
    reconnecting: '끊김: 스스로 다시 연결하는 중…',
    closed: '닫힘',
    tick: (id, time) => `틱 ${id} (${time})`,
    replayedTick: (id, time) => `틱 ${id} (${time}, 다시 연결한 뒤 다시 받음)`,
    note: (text) => `스트림으로 내려온 메모: ${text}`,
    noSend: (type) => `source.send는 ${type}입니다. 그래서 POST /note로 보냅니다.`,
  },
};
const LANG = document.documentElement.lang === 'ko' ? 'ko' : 'en';
const say = WORDS[LANG];

const stateView = document.getElementById('state');
const lastIdView = document.getElementById('last-id');
const events = document.getElementById('events');
const howSent = document.getElementById('how-sent');

function show(text) {
  const item = document.createElement('li');
  item.textContent = text;
  events.prepend(item);
}

const source = new EventSource('/clock');

source.addEventListener('open', () => {
  stateView.textContent = say.open;
});
source.addEventListener('error', () => {
  stateView.textContent =
    source.readyState === EventSource.CONNECTING ? say.reconnecting : say.closed;
});
source.addEventListener('tick', (event) => {
  const tick = JSON.parse(event.data);
  lastIdView.textContent = event.lastEventId;
  const time = new Date(tick.time).toLocaleTimeString(LANG);
  show((tick.replayed ? say.replayedTick : say.tick)(event.lastEventId, time));
});
source.addEventListener('note', (event) => {
  show(say.note(JSON.parse(event.data).text));
});

document.getElementById('note-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('note');
  // An EventSource only listens: it has no send(). Whatever goes up needs a request of its own.
  howSent.textContent = say.noSend(typeof source.send);
  await fetch('/note', {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: input.value,
  });
  input.value = '';
});

document.getElementById('break').addEventListener('click', () => {
  fetch('/break', { method: 'POST' });
});
