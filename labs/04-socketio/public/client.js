// Lab 04, the book's client (12.3), with the client file Socket.IO serves itself (no CDN).
// The book's `news` and `reply` stay as the book writes them; the lab's own lines follow the
// page's language.
import { io } from '/socket.io/socket.io.esm.min.js';

/** What the lab adds to the book's lines, in the page's language (index.html or index.ko.html). */
const WORDS = {
  en: {
    connected: (name) => `connected over ${name}`,
    upgraded: (name) => `upgraded to ${name}`,
    news: (data) => `news: ${data}`,
    disconnected: (reason) => `disconnected (${reason})`,
  },
  ko: {
    connected: (name) => `${name} 방식으로 연결했습니다`,
    upgraded: (name) => `${name} 방식으로 업그레이드했습니다`,
    news: (data) => `news 이벤트: ${data}`,
    disconnected: (reason) => `연결 끊김 (${reason})`,
  },
};
const say = WORDS[document.documentElement.lang === 'ko' ? 'ko' : 'en'];

const transportView = document.getElementById('transport');
const list = document.getElementById('messages');

function show(text) {
  console.info(text);
  const item = document.createElement('li');
  item.textContent = text;
  list.append(item);
}

// ?transport=websocket is the book's `transports: ['websocket']`: no polling first.
const query = new URLSearchParams(location.search);
const only = query.get('transport');
const socket = io({ path: '/socket.io', ...(only ? { transports: [only] } : {}) });

// The link to the other language keeps the transport chosen.
const languageLink = document.querySelector('nav a[hreflang]');
query.set('lang', languageLink.hreflang);
languageLink.search = query.toString();

socket.io.on('open', () => {
  const engine = socket.io.engine;
  transportView.textContent = engine.transport.name;
  show(say.connected(engine.transport.name));
  engine.on('upgrade', (transport) => {
    transportView.textContent = transport.name;
    show(say.upgraded(transport.name));
  });
});
socket.on('news', (data) => {
  show(say.news(data));
  socket.emit('reply', 'Hello Node.JS');
});
socket.on('disconnect', (reason) => {
  transportView.textContent = say.disconnected(reason);
});
