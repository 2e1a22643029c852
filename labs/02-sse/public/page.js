// Lab 02: the clock comes down one long response. EventSource reconnects by itself and sends the
// last id it saw as Last-Event-ID; the server replays what was missed (marked "replayed").

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
  stateView.textContent = 'open';
});
source.addEventListener('error', () => {
  stateView.textContent =
    source.readyState === EventSource.CONNECTING ? 'lost: reconnecting by itself…' : 'closed';
});
source.addEventListener('tick', (event) => {
  const tick = JSON.parse(event.data);
  lastIdView.textContent = event.lastEventId;
  const time = new Date(tick.time).toLocaleTimeString();
  show(
    `tick ${event.lastEventId} at ${time}${tick.replayed ? ' (replayed after a reconnect)' : ''}`,
  );
});
source.addEventListener('note', (event) => {
  show(`note, pushed down the stream: ${JSON.parse(event.data).text}`);
});

document.getElementById('note-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('note');
  // An EventSource only listens: it has no send(). Whatever goes up needs a request of its own.
  howSent.textContent = `source.send is ${typeof source.send}: sending with POST /note instead.`;
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
