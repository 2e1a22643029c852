import type { Room, TransportName } from '../core/model.ts';
import { LIMITS } from '../core/model.ts';
import { html, type SafeHtml } from './html.ts';

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
  rooms: Room[];
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
  <div class="form-actions">
    <button class="primary" type="submit">Create</button>
    <a href="/">Back to the rooms</a>
  </div>
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
  <div class="form-actions">
    <button class="primary" type="submit">Enter</button>
    <a href="/">Back to the rooms</a>
  </div>
</form>
</main>`,
  });
}

export function chatPage(p: {
  room: Room;
  user: string;
  transport: TransportName;
  transports: readonly TransportName[];
}): string {
  return page({
    title: p.room.title,
    script: '/assets/chat.js',
    body: html`<main id="chat-page" class="chat" data-room="${p.room.id}" data-user="${p.user}" data-owner="${p.room.owner}" data-transport="${p.transport}">
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
