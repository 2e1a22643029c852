// Lab 11: open streams one by one and watch the seventh wait. Each row is one connection: an
// EventSource to this host, an EventSource to the other host name of the same server, or a
// WebSocket. `pending` means the browser has not even sent its request: it waits for a free
// connection among the six it keeps for that host.

const WORDS = {
  en: {
    pending: 'pending',
    open: 'open',
    closed: 'closed',
    thisHost: 'EventSource to {host}',
    otherHost: 'EventSource to {host} (the other name)',
    websocket: 'WebSocket to {host}',
    close: 'Close',
    summary: '{open} open, {pending} pending',
  },
  ko: {
    pending: '대기 중',
    open: '열림',
    closed: '닫힘',
    thisHost: '{host}로 여는 EventSource',
    otherHost: '{host}로 여는 EventSource(다른 이름)',
    websocket: '{host}로 여는 웹 소켓',
    close: '닫기',
    summary: '{open}개 열림, {pending}개 대기 중',
  },
};
const words = WORDS[document.documentElement.lang] ?? WORDS.en;
const say = (key, params = {}) => words[key].replace(/\{(\w+)\}/g, (_, name) => params[name]);

const list = document.getElementById('connections');
const summary = document.getElementById('summary');
const otherName = location.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
const otherHost = `${otherName}:${location.port}`;
let count = 0;

/** A row for one connection; `open()` starts it and returns its `close`. */
function add(kind, host, open) {
  count += 1;
  const row = document.createElement('li');
  row.dataset.kind = kind;
  const label = document.createElement('span');
  label.textContent = `#${count} ${say(kind, { host })}`;
  const state = document.createElement('strong');
  const ticks = document.createElement('span');
  ticks.className = 'ticks';
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = say('close');
  row.append(label, ' · ', state, ' · tick ', ticks, ' ', button);
  list.append(row);
  const show = (now) => {
    row.dataset.state = now;
    state.textContent = say(now);
    update();
  };
  show('pending');
  const close = open({
    opened: () => show('open'),
    tick: (tick) => {
      ticks.textContent = String(tick);
    },
  });
  button.addEventListener('click', () => {
    close();
    show('closed');
    button.disabled = true;
  });
}

function eventSource(origin) {
  return ({ opened, tick }) => {
    const source = new EventSource(`${origin}/stream`);
    source.onopen = opened;
    source.onmessage = (event) => tick(JSON.parse(event.data).tick);
    source.addEventListener('tick', (event) => tick(JSON.parse(event.data).tick));
    return () => source.close();
  };
}

function webSocket({ opened, tick }) {
  const socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onopen = opened;
  socket.onmessage = (event) => tick(JSON.parse(event.data).tick);
  return () => socket.close();
}

function update() {
  const rows = [...list.children];
  const open = rows.filter((row) => row.dataset.state === 'open').length;
  const pending = rows.filter((row) => row.dataset.state === 'pending').length;
  summary.textContent = say('summary', { open, pending });
}

document
  .getElementById('open-here')
  .addEventListener('click', () => add('thisHost', location.host, eventSource(location.origin)));
document
  .getElementById('open-other')
  .addEventListener('click', () =>
    add('otherHost', otherHost, eventSource(`${location.protocol}//${otherHost}`)),
  );
document
  .getElementById('open-ws')
  .addEventListener('click', () => add('websocket', location.host, webSocket));
update();
