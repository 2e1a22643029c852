/** The classic 1x1 transparent GIF89a (43 bytes). */
export const GIF_1X1 = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
);

/** A 1x1 PNG: a real image that is not a GIF. */
export const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

/** A multipart form with the file in the field `gif`, as the chat page sends it. */
export function gifForm(bytes: Buffer, name: string, type = 'image/gif'): FormData {
  const form = new FormData();
  form.append('gif', new Blob([new Uint8Array(bytes)], { type }), name);
  return form;
}
