import { type Language, t } from './i18n/index.ts';

/** The lobby shows at most this many rooms, the newest (PROTOCOL.md, Limits). */
export const LOBBY_ROOMS = 200;

/** "3 rooms", or "200 of 300 rooms (the newest)" when the lobby shows only some. */
export function roomCount(lang: Language, shown: number, total: number): string {
  if (shown < total) return t(lang, 'lobby.count.newest', { shown, total });
  return t(lang, total === 1 ? 'lobby.count.one' : 'lobby.count.many', { total });
}
