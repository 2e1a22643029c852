import type { Room, TransportName } from '../../../core/model.ts';
import { TRANSPORT_NAMES } from '../../../core/model.ts';
import type { ClientState } from '../../../transports/client.ts';
import { createClient } from '../../../transports/clients.ts';
import { pageLanguage, paintSwatches, say, userTag } from '../dom.ts';
import { LOBBY_ROOMS, roomCount } from '../room-count.ts';

/**
 * The lobby (GIF 채팅방): keeps the server-rendered room table live with the lobby stream of the
 * transport the page names. Every text from a user goes in with textContent.
 */

const page = document.getElementById('lobby') as HTMLElement;
const roomList = document.getElementById('room-list') as HTMLTableSectionElement;
const noRooms = document.getElementById('no-rooms') as HTMLElement;
const countView = document.getElementById('room-count') as HTMLElement;
/** Rooms in all; the table shows the newest LOBBY_ROOMS of them, newest first. */
let total = Number(countView.dataset.total ?? roomList.rows.length);
const stateView = document.getElementById('state');
const transport = page.dataset.transport as TransportName;

/** A transport the visitor chose in the address is kept when they enter a room. */
const chosen = new URLSearchParams(location.search).get('transport');
const keptTransport = TRANSPORT_NAMES.find((name) => name === chosen);

paintSwatches();
for (const row of roomList.rows) keepTransport(row);

/** Rooms a lobby event told about since the page connected: newer than any list fetched. */
const touched = new Set<string>();
const client = createClient(transport, { baseUrl: location.origin, language: pageLanguage() });
client.on('newRoom', (room) => {
  touched.add(room.id);
  if (!findRow(room.id)) total += 1;
  upsertRoom(room);
});
client.on('roomUpdate', (room) => {
  touched.add(room.id);
  upsertRoom(room);
});
client.on('removeRoom', ({ id }) => {
  touched.add(id);
  total = Math.max(0, total - 1);
  removeRoom(id);
});
client.on('error', (error) => {
  showState('closed', error.message);
});

showState('connecting');
client.connectLobby().then(
  async () => {
    showState('open');
    await refreshRooms();
  },
  (error: Error) => showState('closed', error.message),
);

/** The table was rendered before the stream was live: catch up with what happened in between. */
async function refreshRooms(): Promise<void> {
  const response = await fetch(`/api/rooms?limit=${LOBBY_ROOMS}`, {
    headers: { accept: 'application/json' },
  });
  if (!response.ok) return;
  const listing = (await response.json()) as { rooms: Room[]; total: number };
  total = listing.total;
  const listed = new Set(listing.rooms.map((room) => room.id));
  for (const row of [...roomList.rows]) {
    const id = row.dataset.id ?? '';
    if (!listed.has(id) && !touched.has(id)) removeRoom(id);
  }
  // Oldest first, each new one on top: the table ends newest first, as the list is.
  for (const room of listing.rooms.toReversed()) if (!touched.has(room.id)) upsertRoom(room);
  showCount();
}

/** A room changed in place, or a new one on top; the table keeps the newest LOBBY_ROOMS. */
function upsertRoom(room: Room): void {
  const row = rowOf(room);
  const existing = findRow(room.id);
  if (existing) existing.replaceWith(row);
  else roomList.prepend(row);
  while (roomList.rows.length > LOBBY_ROOMS) roomList.rows[roomList.rows.length - 1]!.remove();
  noRooms.hidden = true;
  showCount();
}

function removeRoom(id: string): void {
  findRow(id)?.remove();
  noRooms.hidden = roomList.rows.length > 0;
  showCount();
}

function showCount(): void {
  countView.dataset.total = String(total);
  countView.textContent = roomCount(pageLanguage(), roomList.rows.length, total);
}

function findRow(id: string): HTMLTableRowElement | undefined {
  return [...roomList.rows].find((row) => row.dataset.id === id);
}

/** The same row as views/pages.ts renders. */
function rowOf(room: Room): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.id = room.id;
  cell(row, 'room-title').textContent = room.title;
  cell(row, 'room-type').textContent = say(room.hasPassword ? 'lobby.secret' : 'lobby.public');
  cell(row, 'room-members').textContent = `${room.members} / ${room.max}`;
  cell(row, 'room-owner').append(userTag(room.owner));
  const enter = document.createElement('a');
  enter.className = 'button';
  enter.href = `/room/${encodeURIComponent(room.id)}`;
  enter.textContent = say('lobby.enter');
  cell(row, 'room-enter').append(enter);
  keepTransport(row);
  return row;
}

function cell(row: HTMLTableRowElement, className: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.className = className;
  return td;
}

function keepTransport(row: HTMLTableRowElement): void {
  if (!keptTransport) return;
  for (const link of row.querySelectorAll<HTMLAnchorElement>('a[href^="/room/"]')) {
    link.search = `?transport=${keptTransport}`;
  }
}

function showState(state: ClientState, detail?: string): void {
  if (!stateView) return;
  stateView.dataset.state = state;
  stateView.textContent = say(`state.${state}`);
  stateView.title = detail ?? '';
}
