import type { Room, TransportName } from '../../core/model.ts';
import { LIMITS } from '../../core/model.ts';
import { html, type SafeHtml } from './html.ts';
import { roomCount } from './room-count.ts';

/**
 * The server-rendered pages of the book's GIF chat (Node.js 교과서, ch. 12), with its element ids
 * and field names (PROTOCOL.md, Pages). Each returns a whole document. No inline script, style or
 * event handler: the server sets a strict CSP, so pages hand data to their script through
 * data-attributes, and colours are painted by the script (`.swatch[data-color]`).
 */

interface Layout {
  title: string;
  script?: string;
  body: SafeHtml;
}

function page({ title, script, body }: Layout): string {
  return html`<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · GIF chat</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
${script ? html`<script type="module" src="${script}"></script>` : ''}
</head>
<body>
<header class="site-header">
  <a class="brand" href="/">GIF chat <span class="ko">GIF 채팅방</span></a>
</header>
${body}
</body>
</html>
`.toString();
}

function errorMessage(error: string | undefined): SafeHtml | '' {
  return error ? html`<p class="error-message" role="alert">${error}</p>` : '';
}

/** A form's submit button, and the way back to the lobby. */
function formActions(submit: string): SafeHtml {
  return html`<div class="form-actions">
    <button class="primary" type="submit">${submit}</button>
    <a href="/">Back to the rooms</a>
  </div>`;
}

/** A user's colour: a swatch the page script paints, and the colour as text. */
function userTag(user: string): SafeHtml {
  return html`<span class="user-tag"><span class="swatch" data-color="${user}"></span><span class="user-name">${user}</span></span>`;
}

function transportBar(transport: TransportName, transports: readonly TransportName[]): SafeHtml {
  const others = transports.filter((name) => name !== transport);
  return html`<nav class="transport-bar" aria-label="Transport">
  <span>Transport: <strong class="transport-name">${transport}</strong></span>
  <span id="state" class="state" data-state="connecting">connecting</span>
  ${
    others.length > 0
      ? html`<span class="switch">Try: ${others.map(
          (name) => html`<a href="?transport=${name}" data-transport-link="${name}">${name}</a> `,
        )}</span>`
      : ''
  }
</nav>`;
}

function roomRow(room: Room): SafeHtml {
  return html`<tr data-id="${room.id}">
  <td class="room-title">${room.title}</td>
  <td class="room-type">${room.hasPassword ? 'secret' : 'public'}</td>
  <td class="room-members">${room.members} / ${room.max}</td>
  <td class="room-owner">${userTag(room.owner)}</td>
  <td class="room-enter"><a class="button" href="/room/${room.id}">Enter</a></td>
</tr>
`;
}

export function lobbyPage(p: {
  /** The newest rooms, newest first (at most a page). */
  rooms: Room[];
  /** Rooms in all. */
  total: number;
  error?: string;
  transport: TransportName;
  transports: readonly TransportName[];
  /** `?transport=...` when the visitor chose one, kept on the links into rooms, or ''. */
  query?: string;
}): string {
  return page({
    title: 'Rooms',
    script: '/assets/lobby.js',
    body: html`<main id="lobby" class="lobby" data-transport="${p.transport}">
<div class="title-row">
  <h1>Rooms <span class="ko">채팅방 목록</span></h1>
  <a class="button primary" href="/room${p.query ?? ''}">Create a room</a>
</div>
${transportBar(p.transport, p.transports)}
${errorMessage(p.error)}
<table class="rooms">
  <thead>
    <tr><th>Title</th><th>Type</th><th>Members</th><th>Owner</th><th><span class="visually-hidden">Enter</span></th></tr>
  </thead>
  <tbody id="room-list">
${p.rooms.map(roomRow)}  </tbody>
</table>
<p id="room-count" class="room-count" data-total="${p.total}">${roomCount(p.rooms.length, p.total)}</p>
<p id="no-rooms" class="empty"${p.rooms.length > 0 ? html` hidden` : ''}>No rooms yet: create the first one.</p>
</main>`,
  });
}

export function newRoomPage(p: {
  error?: string;
  values?: { title?: string; max?: string };
  /** `?transport=...` to keep the visitor's chosen transport across the form, or ''. */
  query?: string;
}): string {
  return page({
    title: 'Create a room',
    body: html`<main class="narrow">
<h1>Create a room <span class="ko">방 생성</span></h1>
${errorMessage(p.error)}
<form class="card" action="/room${p.query ?? ''}" method="post">
  <label for="title">Title</label>
  <input id="title" name="title" required maxlength="${LIMITS.titleMax}" autocomplete="off" value="${p.values?.title ?? ''}">
  <label for="max">Most members</label>
  <input id="max" name="max" type="number" min="${LIMITS.maxMin}" max="${LIMITS.maxMax}" value="${p.values?.max ?? LIMITS.maxDefault}">
  <label for="password">Password <span class="hint">(optional: a room with one is secret)</span></label>
  <input id="password" name="password" type="password" maxlength="${LIMITS.passwordMax}" autocomplete="new-password">
  ${formActions('Create')}
</form>
</main>`,
  });
}

export function passwordPage(p: { room: Room; error?: string; query?: string }): string {
  return page({
    title: p.room.title,
    body: html`<main class="narrow">
<h1>${p.room.title}</h1>
<p>This room is secret <span class="ko">(비밀방)</span>: enter its password.</p>
${errorMessage(p.error)}
<form class="card" action="/room/${p.room.id}/enter${p.query ?? ''}" method="post">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" maxlength="${LIMITS.passwordMax}" required autocomplete="current-password" autofocus>
  ${formActions('Enter')}
</form>
</main>`,
  });
}

export function chatPage(p: {
  room: Room;
  user: string;
  userId: string;
  transport: TransportName;
  transports: readonly TransportName[];
}): string {
  return page({
    title: p.room.title,
    script: '/assets/chat.js',
    body: html`<main id="chat-page" class="chat" data-room="${p.room.id}" data-user="${p.user}" data-user-id="${p.userId}" data-owner-id="${p.room.ownerId ?? ''}" data-transport="${p.transport}">
<div class="title-row">
  <h1 class="room-title">${p.room.title}</h1>
  <a id="exit-btn" class="button" href="/">Leave the room</a>
</div>
<p class="me">You are ${userTag(p.user)}</p>
${transportBar(p.transport, p.transports)}
<div class="chat-layout">
  <section class="chat-panel" aria-label="Messages">
    <ol id="chat-list" aria-live="polite"></ol>
    <p id="chat-error" class="error-message" role="alert" hidden></p>
    <p id="whisper-bar" class="whisper-bar" hidden>
      Whispering to <span id="whisper-target"></span>
      <button id="whisper-clear" type="button">Stop whispering</button>
    </p>
    <form id="chat-form" action="/room/${p.room.id}/chat" method="post" enctype="multipart/form-data">
      <label class="gif-button button" for="gif">GIF</label>
      <input id="gif" class="visually-hidden" name="gif" type="file" accept="image/gif">
      <label class="visually-hidden" for="chat">Message</label>
      <input id="chat" name="chat" maxlength="${LIMITS.chatMax}" autocomplete="off" placeholder="Say something">
      <button class="primary" type="submit">Send</button>
    </form>
  </section>
  <aside class="members-panel" aria-label="Members">
    <h2>Members <span class="ko">참여자</span></h2>
    <ul id="members"></ul>
    <p class="hint">Choose a member to whisper to them.</p>
  </aside>
</div>
</main>`,
  });
}

/** What the browser's Network tab shows for each transport, under its pane on /compare. */
const NETWORK_TAB: Record<TransportName, string> = {
  polling:
    'Network tab: one row per poll. GET /poll/room/… ?after=N&wait=25 stays pending until a ' +
    'message arrives (or 25 s pass), then the next poll starts at once with after set to the ' +
    'answer’s cursor, so every message costs a whole request and its headers. Sending is a ' +
    'separate POST /room/…/chat (fetch).',
  sse:
    'Network tab: one GET /sse/room/… row of type eventsource that never finishes; its ' +
    'EventStream tab lists each event with its id (the seq). After a drop a new row appears, ' +
    'resuming with ?after=N or the Last-Event-ID header. Sending is a separate POST ' +
    '/room/…/chat, so the way up pays a request per message.',
  ws:
    'Network tab: one GET /ws row, status 101 Switching Protocols, type websocket, that stays ' +
    'open. Its Messages tab shows every frame both ways: subscribe, subscribed, chat with a ref, ' +
    'sent, and the chat events. No new row per message, and sending is a frame, not a request. ' +
    'Frames are not in resource timing: the server counts them.',
  socketio:
    'Network tab: a few /socket.io/?EIO=4&transport=polling requests (the handshake and the ' +
    '/chat namespace), then the upgrade row transport=websocket (101). Its Messages tab shows ' +
    'Engine.IO packets: 42/chat,["chat",{…}] for events, 43… for acknowledgements, and 2/3 for ' +
    'ping and pong.',
};

/** What the pane's worker is (with --workers N), and why ws never shows one. */
const WORKER_NOTE =
  'The worker process (pid) that answered this pane’s last finished request, from its ' +
  'Server-Timing header (--workers N). A long poll may reach a different worker each time; ' +
  'Socket.IO’s requests all reach one (sticky). An open EventSource stream shows once it ends; ' +
  'a WebSocket handshake never does (resource timing leaves it out).';

/** One pane of /compare: filled by the page script (figures, chart, messages). */
function comparePane(name: TransportName): SafeHtml {
  const figure = (key: string) => html`<span data-figure="${key}">–</span>`;
  return html`<section class="pane" data-transport="${name}" aria-label="${name}">
  <header class="pane-header">
    <h2>${name}</h2>
    <span class="state" data-state="connecting">connecting</span>
    <span class="worker" data-worker="" hidden title="${WORKER_NOTE}"></span>
    <span class="pane-actions">
      <button type="button" data-action="drop" title="End the connection as a network failure would; the client resumes by itself">Drop connection</button>
      <button type="button" data-action="offline" title="Close the client for 5 s, then resume from the last seq it saw">Offline 5 s</button>
    </span>
  </header>
  <dl class="figures">
    <dt>Latency <small>page clock</small></dt>
    <dd>last ${figure('latency-last')} · median ${figure('latency-median')} <small>(${figure('latency-count')} msgs)</small></dd>
    <dt>Server <small>/api/stats</small></dt>
    <dd>${figure('server-requests')} requests · in ${figure('server-bytes-in')} · out ${figure('server-bytes-out')} · ${figure('server-connections')} open</dd>
    <dt>Page <small>resource timing</small></dt>
    <dd>${
      name === 'ws'
        ? html`<span data-figure="page-requests">n/a</span>: WebSocket frames never show there`
        : html`${figure('page-requests')} finished requests · ${figure('page-bytes')} received`
    }</dd>
    <dt>Connection</dt>
    <dd>${figure('reconnects')} reconnects · sent ${figure('sent')}</dd>
    <dt>Resume</dt>
    <dd class="resume">missed ${figure('missed')} · recovered ${figure('recovered')} · duplicated ${figure('duplicated')}</dd>
    <dd class="check" data-check="">nothing yet</dd>
  </dl>
  <svg class="latency-chart" viewBox="0 0 300 70" role="img" aria-label="Latency of the last messages, ${name}">
    <line class="grid" x1="0" y1="35" x2="300" y2="35"></line>
    <polyline class="latency-line" points=""></polyline>
    <circle class="latency-dot" cx="297" cy="-10" r="2.5"></circle>
    <text class="chart-max" x="2" y="10">ms</text>
  </svg>
  <p class="pane-error error-message" role="alert" hidden></p>
  <ol class="pane-messages"></ol>
  <p class="network-note">${NETWORK_TAB[name]}</p>
</section>`;
}

/**
 * /compare?room=ID: one pane per running transport, each its own client in the same room
 * (PROTOCOL.md, Pages), one send box whose way up can be any of them, and what each one paid.
 */
export function comparePage(p: {
  room: Room;
  user: string;
  userId: string;
  transports: readonly TransportName[];
}): string {
  const upOf: Record<TransportName, string> = {
    polling: 'polling (POST)',
    sse: 'sse (POST)',
    ws: 'ws (a frame)',
    socketio: 'socketio (emit)',
  };
  return page({
    title: `Compare: ${p.room.title}`,
    script: '/assets/compare.js',
    body: html`<main id="compare-page" class="compare" data-room="${p.room.id}" data-user="${p.user}" data-user-id="${p.userId}" data-transports="${p.transports.join(' ')}">
<div class="title-row">
  <h1>Compare <span class="ko">전송 방식 비교</span> <span class="room-title">${p.room.title}</span></h1>
  <span class="compare-links">You are ${userTag(p.user)} · <a href="/room/${p.room.id}">this room in the chat page</a> · <a href="/">rooms</a></span>
</div>
<form id="send-form" class="send-bar">
  <label for="send-via">Send via</label>
  <select id="send-via" name="via">
${p.transports.map((name) => html`    <option value="${name}">${upOf[name]}</option>\n`)}  </select>
  <label class="visually-hidden" for="send-text">Message</label>
  <input id="send-text" name="chat" maxlength="${LIMITS.chatMax}" autocomplete="off" placeholder="Say something to every pane">
  <button class="primary" type="submit">Send</button>
  <button id="burst" type="button" title="Send 100 messages at once through the chosen transport">Burst ×100</button>
  <span id="send-status" class="hint" aria-live="polite"></span>
</form>
<p id="up-figures" class="hint">Way up of polling and SSE, POST /room/…/chat: <span data-figure="post-requests">0</span> requests, <span data-figure="post-bytes">0 B</span> received (resource timing). Shared routes (/api/stats <code>http</code>: pages, POSTs, these stats polls): <span data-figure="http-requests">–</span> requests, in <span data-figure="http-bytes-in">–</span>, out <span data-figure="http-bytes-out">–</span>.</p>
<p id="compare-error" class="error-message" role="alert" hidden></p>
<div class="panes">
${p.transports.map(comparePane)}
</div>
<p class="hint">Latency is send to arrival on one clock, the page’s: the time from handing a message to the chosen client until each pane receives it, for messages sent from this page, live ones only (recovered ones are counted apart). Server figures count every client of that transport since this page opened, bytes as they crossed the wire (with --workers N, summed over the workers that answered /api/stats). Page figures count only this page’s requests, once they finish (transferSize: headers and body as received): a pending poll or an open SSE stream shows when it ends, and WebSocket frames never do.</p>
</main>`,
  });
}
