// Lab 04, the book's client (12.3), with the client file Socket.IO serves itself (no CDN).
import { io } from '/socket.io/socket.io.esm.min.js';

const transportView = document.getElementById('transport');
const list = document.getElementById('messages');

function show(text) {
  console.info(text);
  const item = document.createElement('li');
  item.textContent = text;
  list.append(item);
}

// ?transport=websocket is the book's `transports: ['websocket']`: no polling first.
const only = new URLSearchParams(location.search).get('transport');
const socket = io({ path: '/socket.io', ...(only ? { transports: [only] } : {}) });

socket.io.on('open', () => {
  const engine = socket.io.engine;
  transportView.textContent = engine.transport.name;
  show(`connected over ${engine.transport.name}`);
  engine.on('upgrade', (transport) => {
    transportView.textContent = transport.name;
    show(`upgraded to ${transport.name}`);
  });
});
socket.on('news', (data) => {
  show(`news: ${data}`);
  socket.emit('reply', 'Hello Node.JS');
});
socket.on('disconnect', (reason) => {
  transportView.textContent = `disconnected (${reason})`;
});
