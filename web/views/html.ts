/**
 * A tiny `html` tagged template for the server-rendered pages. Every interpolated value is
 * HTML-escaped (so user text is only ever text); arrays are rendered item by item and joined;
 * `null`, `undefined` and `false` render nothing. Markup that is already safe (another `html`
 * template, or `raw(...)`) is inserted as is. Always quote attribute values in templates.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Markup that may be inserted without escaping. */
export class SafeHtml {
  readonly #markup: string;

  constructor(markup: string) {
    this.#markup = markup;
  }

  toString(): string {
    return this.#markup;
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** Marks a string as already safe HTML: only for markup this code wrote, never for user text. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let markup = strings[0] ?? '';
  values.forEach((value, index) => {
    markup += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(markup);
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}
