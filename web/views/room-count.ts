/** The lobby shows at most this many rooms, the newest (PROTOCOL.md, Limits). */
export const LOBBY_ROOMS = 200;

/** "3 rooms", or "200 of 300 rooms (the newest)" when the lobby shows only some. */
export function roomCount(shown: number, total: number): string {
  const rooms = total === 1 ? 'room' : 'rooms';
  return shown < total ? `${shown} of ${total} ${rooms} (the newest)` : `${total} ${rooms}`;
}
