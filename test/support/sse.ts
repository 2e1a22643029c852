import { eventually } from './http.ts';

/** One parsed SSE block. */
export interface SseFrame {
  event?: string;
  id?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** Every block received so far, comments and `retry` included. */
  frames: SseFrame[];
  /** The named events so far, data parsed. */
  events(): { type: string; id?: number; data: unknown }[];
  /** Waits for at least `n` named events (or `type` events when given). */
  waitFor(n: number, type?: string, ms?: number): Promise<void>;
  /** Whether the server ended the stream. */
  ended: boolean;
  close(): void;
}

/**
 * A raw SSE reader over fetch, for asserting the exact frames the server writes (ids, retry,
 * comments). Refusals come back as a stream with `status` set and no frames.
 */
export async function openSse(
  url: string,
  options: { cookie?: string; lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<SseStream & { body: string }> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const response = await fetch(url, { headers, signal: controller.signal });
  const stream: SseStream & { body: string } = {
    status: response.status,
    headers: response.headers,
    frames: [],
    body: '',
    ended: false,
    events: () =>
      stream.frames
        .filter((frame) => frame.event !== undefined)
        .map((frame) => ({
          type: frame.event!,
          ...(frame.id !== undefined ? { id: Number(frame.id) } : {}),
          data: JSON.parse(frame.data ?? 'null'),
        })),
    waitFor: (n, type, ms = 5000) =>
      eventually(
        () => stream.events().filter((e) => type === undefined || e.type === type).length >= n,
        ms,
        `${n} ${type ?? ''} SSE events (have ${JSON.stringify(stream.events().map((e) => e.type))})`,
      ),
    close: () => controller.abort(),
  };
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    stream.body = await response.text();
    stream.ended = true;
    return stream;
  }
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          stream.frames.push(parseBlock(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    }
    stream.ended = true;
  })();
  return stream;
}

function parseBlock(block: string): SseFrame {
  const frame: SseFrame = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      frame.comment = line.slice(1).trim();
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event' || field === 'id' || field === 'retry') frame[field] = value;
    if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
  }
  return frame;
}
