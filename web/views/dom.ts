import type { Message, SystemEventType } from '../../core/model.ts';
import { GIF_NAME_PATTERN, SYSTEM_USER, USER_PATTERN } from '../../core/model.ts';
import { ClientError } from '../../transports/client.ts';
import { documentLanguage, type Language, type MessageKey, type Params, t } from './i18n/index.ts';

/** Browser-side helpers shared by the page scripts. User text only ever goes in as text. */

/** The page's language: the one its server-rendered `<html lang>` says. */
export function pageLanguage(): Language {
  return documentLanguage(document.documentElement.lang);
}

/** A catalogue sentence in the page's language: the scripts' texts are the pages' catalogue. */
export function say(key: MessageKey, params?: Params): string {
  return t(pageLanguage(), key, params);
}

/** A user's colour swatch and name, as the member list, messages and the lobby show them. */
/**
 * What a page shows of a failure: the server's sentence (asked for in the page's language), a
 * client's own failure from the catalogue by its code, and anything else (a network error, which
 * the browser words in its own language) as the page's `fallback`.
 */
export function failureText(error: unknown, fallback: MessageKey): string {
  if (!(error instanceof ClientError)) return say(fallback);
  return error.code ? say(`client.${error.code}`) : error.message;
}

export function userTag(user: string): HTMLElement {
  const tag = document.createElement('span');
  tag.className = 'user-tag';
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  paintSwatch(swatch, user);
  const name = document.createElement('span');
  name.className = 'user-name';
  name.textContent = user;
  tag.append(swatch, name);
  return tag;
}

/** Colours a swatch through the CSSOM (allowed by the page's CSP, unlike style attributes). */
export function paintSwatch(swatch: HTMLElement, color: string): void {
  if (USER_PATTERN.test(color)) swatch.style.backgroundColor = color;
}

/** Paints the swatches the server rendered (`.swatch[data-color]`): its pages carry no style. */
export function paintSwatches(): void {
  for (const swatch of document.querySelectorAll<HTMLElement>('.swatch[data-color]')) {
    paintSwatch(swatch, swatch.dataset.color ?? '');
  }
}

/** A message the chat itself wrote (a join, an exit, an owner hand-over): shown as plain text. */
export function isSystemMessage(message: Message): boolean {
  return message.kind === 'system' || message.user === SYSTEM_USER;
}

/**
 * A system message's line in the page's language. PROTOCOL.md stores it as the member's colour and
 * English words ("#a3c25e joined"); the event it came as (`join`, `exit`, `owner`) says which
 * sentence it is, and the colour it starts with whom it names. Anything else is shown as stored.
 */
export function systemLine(type: SystemEventType | 'chat', message: Message): string {
  const text = message.chat ?? '';
  const user = /^#[0-9a-f]{6}(?=\s)/.exec(text)?.[0];
  if (type === 'chat' || user === undefined) return text;
  return say(`system.${type}`, { user });
}

/** The image of a GIF message, if its file name is one the server gives; else undefined. */
export function gifImage(message: Message): HTMLImageElement | undefined {
  if (message.kind !== 'gif' || !message.gif || !GIF_NAME_PATTERN.test(message.gif)) return;
  const image = document.createElement('img');
  image.src = `/gif/${message.gif}`;
  image.alt = say('user.gifFrom', { user: message.user });
  return image;
}

/**
 * Inserts `item` into `list` before the items whose `keyOf` is not below `key`. The walk starts
 * at the end, where a new message nearly always goes.
 */
export function insertInOrder(
  list: Element,
  item: Element,
  key: number,
  keyOf: (node: HTMLElement) => number,
): void {
  let before: Element | null = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (keyOf(node as HTMLElement) < key) break;
    before = node;
  }
  list.insertBefore(item, before);
}
