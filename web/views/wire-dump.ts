import { say } from './dom.ts';
import type { Section, ShownPart, ShownUnit } from './wire-report.ts';

/**
 * The inspector's dumps, in the browser: each unit as a classic hex dump (offset, 16 bytes, the
 * same bytes as characters) coloured by part, and a table of its parts, each a row carrying
 * `data-part` and `data-bytes`, with its bytes as text. Everything goes in as text.
 */

const ROW = 16;
const BINARY: ReadonlySet<string> = new Set(['ws-header', 'ws-length', 'ws-mask', 'bytes']);

export function renderSection(container: HTMLElement, section: Section): void {
  container.replaceChildren(...section.units.map(unitView));
}

function unitView(unit: ShownUnit): HTMLElement {
  const view = element('div', 'unit');
  view.dataset.direction = unit.direction;
  view.dataset.unit = unit.kind;
  view.dataset.bytes = String(unit.length);
  const caption = element('p', 'unit-caption');
  const kind = say(`inspect.unit.kind.${unit.kind}`);
  caption.textContent = `${say(`inspect.unit.${unit.direction}`)} · ${say('inspect.unitBytes', { kind, bytes: unit.length })}`;
  if (unit.cut) {
    const kept = unit.parts.reduce((sum, part) => sum + part.length, 0);
    caption.textContent += ` · ${say('inspect.cut', { kept })}`;
  }
  view.append(caption, hexDump(unit.parts), partTable(unit.parts));
  return view;
}

/** Offset, hex bytes and characters, 16 to a row, each byte coloured by its part's kind. */
function hexDump(parts: readonly ShownPart[]): HTMLElement {
  const cells: { byte: number; shown: number; kind: string }[] = [];
  for (const part of parts) {
    const wire = bytesOf(part.bytes);
    const shown = part.shown ? bytesOf(part.shown) : wire;
    for (const [index, byte] of wire.entries()) {
      cells.push({ byte, shown: shown[index] ?? byte, kind: part.kind });
    }
  }
  const dump = element('pre', 'hexdump');
  for (let offset = 0; offset < cells.length; offset += ROW) {
    const row = element('span', 'row');
    const hex = element('span', 'hex-column');
    const chars = element('span', 'char-column');
    for (const cell of cells.slice(offset, offset + ROW)) {
      hex.append(
        element('span', `b k-${cell.kind}`, `${cell.byte.toString(16).padStart(2, '0')} `),
      );
      chars.append(element('span', `c k-${cell.kind}`, printable(cell.shown)));
    }
    const pad = ROW - Math.min(ROW, cells.length - offset);
    if (pad > 0) hex.append('   '.repeat(pad));
    row.append(
      element('span', 'offset', `${offset.toString(16).padStart(4, '0')}  `),
      hex,
      ' ',
      chars,
      '\n',
    );
    dump.append(row);
  }
  return dump;
}

function partTable(parts: readonly ShownPart[]): HTMLElement {
  const table = element('table', 'parts');
  const head = element('tr');
  for (const key of ['part', 'bytes', 'says', 'text'] as const) {
    head.append(element('th', 'cell', say(`inspect.column.${key}`)));
  }
  table.append(head);
  for (const part of parts) {
    const row = element('tr', `part k-${part.kind}`);
    row.dataset.part = part.kind;
    row.dataset.bytes = String(part.length);
    row.title = say(`inspect.part.${part.kind}` as never);
    const shown = bytesOf(part.shown ?? part.bytes);
    // Frame headers, lengths and keys are numbers, not text: shown byte by byte.
    const text = BINARY.has(part.kind)
      ? Array.from(shown, printable).join('')
      : new TextDecoder().decode(shown);
    row.append(
      element('td', 'cell kind', part.kind),
      element('td', 'cell count', String(part.length)),
      element('td', 'cell label', part.label),
      element('td', 'cell text', visible(text)),
    );
    table.append(row);
  }
  return table;
}

function bytesOf(base64: string): Uint8Array {
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

/** A byte as one character of the dump: ASCII as itself, line ends as symbols, the rest a dot. */
function printable(byte: number): string {
  if (byte === 0x0d) return '␍';
  if (byte === 0x0a) return '␊';
  if (byte === 0x1e) return '␞';
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '·';
}

/** Text with its control characters made visible (CR, LF, the Engine.IO record separator). */
function visible(text: string): string {
  return text.replaceAll('\r', '␍').replaceAll('\n', '␊').replaceAll('\u001e', '␞');
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
