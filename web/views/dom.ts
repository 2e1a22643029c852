import { USER_PATTERN } from '../../core/model.ts';

/** Browser-side helpers shared by the page scripts. User text only ever goes in as text. */

/** A user's colour swatch and name, as the member list, messages and the lobby show them. */
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
