// Lab 01: the same clock, asked two ways. Each column counts its requests, the answers that
// brought nothing new, and the bytes of each answer (status line, headers and body; the Network
// tab also shows what the browser sent up, which is as large again).

const SHORT_EVERY_MS = 1000;
const LONG_WAIT_S = 25;
/** The page's language (index.html or index.ko.html): the clock's time is written in it. */
const LANG = document.documentElement.lang;

/** A column's counters; returns a function that records one answer. */
function meter(mode) {
  const column = document.querySelector(`[data-mode="${mode}"]`);
  const field = (name) => column.querySelector(`[data-field="${name}"]`);
  const totals = { requests: 0, empty: 0, bytes: 0 };
  return (answer, bytes, isNew) => {
    totals.requests += 1;
    totals.bytes += bytes;
    if (!isNew) totals.empty += 1;
    field('tick').textContent =
      `#${answer.tick} (${new Date(answer.time).toLocaleTimeString(LANG)})`;
    field('requests').textContent = String(totals.requests);
    field('empty').textContent = String(totals.empty);
    field('bytes').textContent = totals.bytes.toLocaleString(LANG);
  };
}

async function askClock(after, wait) {
  const response = await fetch(`/clock?after=${after}&wait=${wait}`, { cache: 'no-store' });
  const body = await response.text();
  return { answer: JSON.parse(body), bytes: headerBytes(response) + new Blob([body]).size };
}

/** The status line and headers as they were on the wire (close enough: HTTP/1.1 framing). */
function headerBytes(response) {
  let bytes = `HTTP/1.1 ${response.status} ${response.statusText}\r\n\r\n`.length;
  for (const [name, value] of response.headers) bytes += name.length + value.length + 4;
  return bytes;
}

// Short polling: every second, "anything new after tick N?", answered at once, news or not.
function shortPolling() {
  const record = meter('short');
  let seen = -1;
  setInterval(async () => {
    try {
      const { answer, bytes } = await askClock(seen, 0);
      record(answer, bytes, answer.tick > seen);
      seen = Math.max(seen, answer.tick);
    } catch {
      // The server is away: the next second asks again.
    }
  }, SHORT_EVERY_MS);
}

// Long polling: the same question, but the server keeps it until there is news (or 25 s pass);
// the page asks again as soon as the answer is in.
async function longPolling() {
  const record = meter('long');
  let seen = -1;
  for (;;) {
    try {
      const { answer, bytes } = await askClock(seen, LONG_WAIT_S);
      record(answer, bytes, answer.tick > seen);
      seen = Math.max(seen, answer.tick);
    } catch {
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}

shortPolling();
longPolling();
