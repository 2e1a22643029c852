import type { TransportName } from '../../core/model.ts';
import type { Pane, Report, Section, ShownUnit } from '../views/wire-report.ts';
import type { Unit } from './capture.ts';
import type { Exchange, Trace } from './traces.ts';
import {
  chunkParts,
  frameParts,
  framePayload,
  headParts,
  type Payload,
  payloadParts,
} from './wire.ts';

/**
 * Finds, in a trace, what carried the message `messageId` down on each transport (the poll
 * answer, the SSE chunk, the ws frame, the Socket.IO packet) and up (the POST and its answer),
 * and marks their parts. A unit is the message's when its bytes hold `"id":"<messageId>"`.
 */
export function reportOf(
  trace: Trace,
  messageId: string,
  transports: readonly TransportName[],
): Report {
  const marker = `"id":"${messageId}"`;
  const panes = transports.map((transport): Pane => {
    for (const exchange of [...trace.exchanges].reverse()) {
      if (exchange.endpoint !== transport) continue;
      const units = exchange.down.units;
      // The message's event, not the acknowledgement of a send (which holds the message too).
      const index = units.findLastIndex(
        (unit) => holds(unit, marker) && !acknowledges(exchange, unit),
      );
      if (index === -1) continue;
      const unit = units[index]!;
      // A whole answer (a poll's) is its head and its body; a stream's unit is only itself.
      const head = unit.kind === 'body' && units[0]?.kind === 'head' ? [units[0]] : [];
      return { transport, delivery: section(exchange, [], [...head, unit]) };
    }
    return { transport, delivery: null };
  });
  return { message: messageId, panes, up: wayUp(trace, marker) };
}

/**
 * What carried the message up: a traced `POST /room/:id/chat` and its answer, or a client frame
 * and the server's acknowledgement of it, paired by their reference: ws's `ref` (`chat` up,
 * `sent` down), Socket.IO's acknowledgement id (`42/chat,N[...]` up, `43/chat,N[...]` down).
 */
function wayUp(trace: Trace, marker: string): Section | null {
  for (const exchange of [...trace.exchanges].reverse()) {
    const answer = exchange.down.units.findLast((unit) => holds(unit, marker));
    if (!answer) continue;
    if (exchange.endpoint === 'http' && exchange.method === 'POST') {
      return section(exchange, exchange.up.units, exchange.down.units);
    }
    if (!exchange.upgrade || answer.kind !== 'frame') continue;
    const reference = referenceOf(exchange.endpoint, framePayload(answer.bytes).toString('utf8'));
    if (reference === undefined) continue;
    const sent = exchange.up.units.findLast(
      (unit) => unit.kind === 'frame' && reference(framePayload(unit.bytes).toString('utf8')),
    );
    if (sent) return section(exchange, [sent], [answer]);
  }
  return null;
}

/** For an acknowledgement, a test of the client frame it acknowledges; undefined for others. */
function referenceOf(endpoint: string, answer: string): ((sent: string) => boolean) | undefined {
  if (endpoint === 'socketio') {
    const id = /^43\/chat,(\d+)\[/.exec(answer)?.[1];
    return id === undefined ? undefined : (sent) => sent.startsWith(`42/chat,${id}[`);
  }
  if (endpoint !== 'ws') return undefined;
  const ref = jsonOf(answer)?.type === 'sent' ? refOf(jsonOf(answer)?.data) : undefined;
  if (ref === undefined) return undefined;
  return (sent) => {
    const frame = jsonOf(sent);
    return frame?.type === 'chat' && frame.ref === ref;
  };
}

function jsonOf(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function refOf(data: unknown): unknown {
  return typeof data === 'object' && data !== null ? (data as { ref?: unknown }).ref : undefined;
}

/** What a trace holds, exchange by exchange: the bytes seen each way (kept or not) and units kept. */
export interface ExchangeSummary {
  id: number;
  endpoint: Exchange['endpoint'];
  method: string;
  url: string;
  upgrade: boolean;
  readyState: Exchange['readyState'];
  bytesUp: number;
  bytesDown: number;
  unitsUp: number;
  unitsDown: number;
}

export function summaryOf(trace: Trace): { exchanges: ExchangeSummary[] } {
  return {
    exchanges: trace.exchanges.map((exchange) => ({
      id: exchange.id,
      endpoint: exchange.endpoint,
      method: exchange.method,
      url: exchange.url,
      upgrade: exchange.upgrade,
      readyState: exchange.readyState,
      bytesUp: exchange.up.total,
      bytesDown: exchange.down.total,
      unitsUp: exchange.up.units.length,
      unitsDown: exchange.down.units.length,
    })),
  };
}

function acknowledges(exchange: Exchange, unit: Unit): boolean {
  if (unit.kind !== 'frame') return false;
  return referenceOf(exchange.endpoint, framePayload(unit.bytes).toString('utf8')) !== undefined;
}

function holds(unit: Unit, marker: string): boolean {
  return unit.bytes.includes(marker);
}

function section(exchange: Exchange, up: readonly Unit[], down: readonly Unit[]): Section {
  const shown = [
    ...up.map((unit) => show(exchange, 'up', unit, up)),
    ...down.map((unit) => show(exchange, 'down', unit, exchange.down.units)),
  ];
  const sum = (units: readonly Unit[]) => units.reduce((total, unit) => total + unit.length, 0);
  const { id, method, url, upgrade } = exchange;
  return {
    exchange: { id, method, url, upgrade },
    units: shown,
    bytesDown: sum(down),
    bytesUp: sum(up),
  };
}

function show(
  exchange: Exchange,
  direction: 'up' | 'down',
  unit: Unit,
  siblings: readonly Unit[],
): ShownUnit {
  const payload = payloadOf(exchange, siblings[0]);
  const parts =
    unit.kind === 'head'
      ? headParts(unit.bytes)
      : unit.kind === 'chunk'
        ? chunkParts(unit.bytes, payload)
        : unit.kind === 'frame'
          ? frameParts(unit.bytes, exchange.endpoint === 'socketio' ? 'engine.io' : 'json')
          : payloadParts(unit.bytes, payload);
  return {
    direction,
    kind: unit.kind,
    length: unit.length,
    cut: unit.bytes.length < unit.length,
    parts: parts.map((part) => ({
      kind: part.kind,
      label: part.label,
      length: part.bytes.length,
      bytes: part.bytes.toString('base64'),
      ...(part.shown ? { shown: part.shown.toString('base64') } : {}),
    })),
  };
}

/** How a body is read: by its endpoint and its head's Content-Type. */
function payloadOf(exchange: Exchange, head: Unit | undefined): Payload {
  const type =
    head?.kind === 'head'
      ? /\r\ncontent-type:\s*([^\r;]*)/i.exec(head.bytes.toString('latin1'))?.[1]
      : undefined;
  if (type === 'text/event-stream') return 'sse';
  if (exchange.endpoint === 'socketio') return 'engine.io-polling';
  return 'json';
}
