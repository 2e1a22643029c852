import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/http.ts';
import { itSpeaksBothLanguages } from '../shared/languages.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

/** A tick every 100 ms (1 s by default); the browser waits 300 ms before it reconnects (2 s). */
const INTERVAL_MS = 100;
const RETRY_MS = 300;

const started = startedLab(main, [
  '--port',
  '0',
  '--interval',
  String(INTERVAL_MS),
  '--retry',
  String(RETRY_MS),
]);
const { log } = started;

/** An EventSource on /clock recording every event, with the Node `eventsource` package. */
function openClock() {
  const source = new EventSource(`${started.lab.url}clock`);
  const received: { type: string; id: string; data: { replayed?: boolean; text?: string } }[] = [];
  for (const type of ['tick', 'note']) {
    source.addEventListener(type, (event) => {
      received.push({ type, id: event.lastEventId, data: JSON.parse(event.data) });
    });
  }
  const ticks = () => received.filter((event) => event.type === 'tick');
  return { source, received, ticks };
}

it('streams the clock as events with ids, and says how long to wait before reconnecting', async () => {
  const response = await fetch(`${started.lab.url}clock`);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = response.body!.getReader();
  let text = '';
  while (!/id: \d+\nevent: tick\ndata: \{/.test(text)) {
    text += new TextDecoder().decode((await reader.read()).value);
  }
  expect(text.startsWith(`retry: ${RETRY_MS}\n\n`)).toBe(true);
  await reader.cancel();
});

it('a reconnect resumes from Last-Event-ID: every tick once, none lost', async () => {
  const clock = openClock();
  try {
    await eventually(() => clock.ticks().length >= 3, 3000, 'three ticks');
    const before = clock.ticks().length;
    const breaking = await fetch(`${started.lab.url}break`, { method: 'POST' });
    expect(breaking.status).toBe(204);

    // The stream is gone for RETRY_MS, so ticks are missed, then replayed on the reconnect.
    await eventually(
      () => clock.ticks().some((tick) => tick.data.replayed),
      3000,
      'replayed ticks',
    );
    // The last tick before the replay, not the last one seen when the POST came back: a tick
    // the server wrote before the break may still be read after that answer.
    const firstReplayed = clock.ticks().findIndex((tick) => tick.data.replayed);
    const lastBefore = clock.ticks()[firstReplayed - 1]!.id;
    await eventually(() => clock.ticks().length >= before + 5, 3000, 'more ticks');
    const ids = clock.ticks().map((tick) => Number(tick.id));
    const first = ids[0]!;
    expect(ids).toEqual(ids.map((_, i) => first + i));
    expect(log).toContain(
      `a stream came back with Last-Event-ID: ${lastBefore}; replaying ${clock.ticks().filter((tick) => tick.data.replayed).length} missed tick(s)`,
    );
  } finally {
    clock.source.close();
  }
});

it('the browser cannot send on the stream: a POST goes up, and the server pushes it down', async () => {
  const first = openClock();
  const second = openClock();
  try {
    await eventually(() => first.ticks().length > 0 && second.ticks().length > 0, 3000, 'ticks');
    expect('send' in first.source).toBe(false);
    const posted = await fetch(`${started.lab.url}note`, {
      method: 'POST',
      body: 'hello from below',
    });
    expect(posted.status).toBe(204);
    for (const clock of [first, second]) {
      await eventually(
        () => clock.received.some((event) => event.data.text === 'hello from below'),
        3000,
        'the note on every stream',
      );
    }
    expect((await fetch(`${started.lab.url}note`, { method: 'POST', body: '  ' })).status).toBe(
      400,
    );
  } finally {
    first.source.close();
    second.source.close();
  }
});

describe('the page in Korean and in English', () => {
  itSpeaksBothLanguages(() => started.lab.url, {
    en: 'A server clock over EventSource',
    ko: 'EventSource로 받는 서버 시계',
  });
});
