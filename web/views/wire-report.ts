import type { TransportName } from '../../core/model.ts';

/**
 * What `GET /api/traces/:token?message=ID` answers, the inspector page's contract with the server
 * (web/trace/report.ts makes it, views/wire-dump.ts and client/inspect.ts show it).
 */

/** Every kind of part, in the order a reader meets them (the legend's order). */
export const PART_KINDS = [
  'start-line',
  'header',
  'head-end',
  'chunk-size',
  'chunk-end',
  'sse-field',
  'sse-value',
  'sse-end',
  'ws-header',
  'ws-length',
  'ws-mask',
  'eio-type',
  'eio-separator',
  'sio-type',
  'sio-namespace',
  'sio-ack',
  'json',
  'text',
  'bytes',
] as const;

export type PartKind = (typeof PART_KINDS)[number];

/** What a captured unit is: a message head, a chunk of a chunked body, a whole body, a frame, bytes. */
export type UnitKind = 'head' | 'chunk' | 'body' | 'frame' | 'bytes';

/** A part as the page gets it: bytes as base64 (the wire's, and the unmasked ones if they differ). */
export interface ShownPart {
  kind: PartKind;
  label: string;
  length: number;
  bytes: string;
  shown?: string;
}

export interface ShownUnit {
  /** `down`: the server wrote it; `up`: the client sent it. */
  direction: 'up' | 'down';
  kind: UnitKind;
  /** Its length on the wire; the parts add up to it unless `cut` (only its start was kept). */
  length: number;
  cut: boolean;
  parts: ShownPart[];
}

/** What one exchange carried for one message: the units, and the bytes each way. */
export interface Section {
  exchange: { id: number; method: string; url: string; upgrade: boolean };
  units: ShownUnit[];
  /** Bytes the server wrote in these units (a delivery's total: what /api/stats counts out). */
  bytesDown: number;
  /** Bytes the client sent in them (a plain request's are rebuilt as parsed). */
  bytesUp: number;
}

export interface Pane {
  transport: TransportName;
  /** The unit that brought the message to this transport's traced client; null if none seen. */
  delivery: Section | null;
}

export interface Report {
  message: string;
  panes: Pane[];
  /**
   * The way up: the traced `POST /room/:id/chat` that carried the message, with its answer, or
   * the ws or Socket.IO client frame, with the acknowledgement frame.
   */
  up: Section | null;
}
