import type { Room, TransportName } from '../../core/model.ts';
import { LIMITS } from '../../core/model.ts';
import { escapeHtml, html, raw, type SafeHtml } from './html.ts';
import { type Language, type MessageKey, t } from './i18n/index.ts';
import { roomCount } from './room-count.ts';

/**
 * The server-rendered pages of the book's GIF chat (Node.js 교과서, ch. 12), with its element ids
 * and field names (PROTOCOL.md, Pages). Each returns a whole document. No inline script, style or
 * event handler: the server sets a strict CSP, so pages hand data to their script through
 * data-attributes, and colours are painted by the script (`.swatch[data-color]`). Every text is
 * the catalogue's sentence in the page's language (`lang`), which `<html lang>` tells the script.
 */

/** What every page is told about its reader's language. */
interface Reading {
  lang: Language;
  /** The same page in the other language (`?lang=`), when it can be asked for again by a GET. */
  switchHref?: string;
}

interface Layout extends Reading {
  title: string;
  script?: string;
  body: SafeHtml;
}

/**
 * A catalogue sentence as markup: its text escaped, each `{name}` replaced by the value (escaped,
 * unless it is markup such as a figure's span).
 */
export function tHtml(
  lang: Language,
  key: MessageKey,
  params: Record<string, unknown> = {},
): SafeHtml {
  const sentence = t(lang, key).split(/(\{\w+\})/);
  return raw(
    sentence
      .map((part) => {
        const name = /^\{(\w+)\}$/.exec(part)?.[1];
        if (name === undefined || !Object.hasOwn(params, name)) return escapeHtml(part);
        return html`${params[name]}`.toString();
      })
      .join(''),
  );
}

export function page({ title, script, body, lang, switchHref }: Layout): string {
  const other: Language = lang === 'ko' ? 'en' : 'ko';
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t(lang, 'site.title', { page: title })}</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
${script ? html`<script type="module" src="${script}"></script>` : ''}
</head>
<body>
<header class="site-header">
  <a class="brand" href="/">${t(lang, 'site.brand')}</a>
  ${
    switchHref
      ? html`<a class="lang-switch" href="${switchHref}" hreflang="${other}" lang="${other}">${t(lang, 'site.switchTo')}</a>`
      : ''
  }
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
function formActions(lang: Language, submit: string): SafeHtml {
  return html`<div class="form-actions">
    <button class="primary" type="submit">${submit}</button>
    <a href="/">${t(lang, 'form.back')}</a>
  </div>`;
}

/** A user's colour: a swatch the page script paints, and the colour as text. */
export function userTag(user: string): SafeHtml {
  return html`<span class="user-tag"><span class="swatch" data-color="${user}"></span><span class="user-name">${user}</span></span>`;
}

function transportBar(
  lang: Language,
  transport: TransportName,
  transports: readonly TransportName[],
): SafeHtml {
  const others = transports.filter((name) => name !== transport);
  return html`<nav class="transport-bar" aria-label="${t(lang, 'transport.label')}">
  <span>${tHtml(lang, 'transport.current', { name: html`<strong class="transport-name">${transport}</strong>` })}</span>
  <span id="state" class="state" data-state="connecting">${t(lang, 'state.connecting')}</span>
  ${
    others.length > 0
      ? html`<span class="switch">${t(lang, 'transport.try')} ${others.map(
          (name) => html`<a href="?transport=${name}" data-transport-link="${name}">${name}</a> `,
        )}</span>`
      : ''
  }
</nav>`;
}

function roomRow(lang: Language, room: Room): SafeHtml {
  return html`<tr data-id="${room.id}">
  <td class="room-title">${room.title}</td>
  <td class="room-type">${t(lang, room.hasPassword ? 'lobby.secret' : 'lobby.public')}</td>
  <td class="room-members">${room.members} / ${room.max}</td>
  <td class="room-owner">${userTag(room.owner)}</td>
  <td class="room-enter"><a class="button" href="/room/${room.id}">${t(lang, 'lobby.enter')}</a></td>
</tr>
`;
}

export function lobbyPage(
  p: Reading & {
    /** The newest rooms, newest first (at most a page). */
    rooms: Room[];
    /** Rooms in all. */
    total: number;
    error?: string;
    transport: TransportName;
    transports: readonly TransportName[];
    /** `?transport=...` when the visitor chose one, kept on the links into rooms, or ''. */
    query?: string;
  },
): string {
  const { lang } = p;
  return page({
    ...p,
    title: t(lang, 'lobby.title'),
    script: '/assets/lobby.js',
    body: html`<main id="lobby" class="lobby" data-transport="${p.transport}">
<div class="title-row">
  <h1>${t(lang, 'lobby.heading')}</h1>
  <a class="button primary" href="/room${p.query ?? ''}">${t(lang, 'lobby.create')}</a>
</div>
${transportBar(lang, p.transport, p.transports)}
${errorMessage(p.error)}
<table class="rooms">
  <thead>
    <tr><th>${t(lang, 'lobby.column.title')}</th><th>${t(lang, 'lobby.column.type')}</th><th>${t(lang, 'lobby.column.members')}</th><th>${t(lang, 'lobby.column.owner')}</th><th><span class="visually-hidden">${t(lang, 'lobby.column.enter')}</span></th></tr>
  </thead>
  <tbody id="room-list">
${p.rooms.map((room) => roomRow(lang, room))}  </tbody>
</table>
<p id="room-count" class="room-count" data-total="${p.total}">${roomCount(lang, p.rooms.length, p.total)}</p>
<p id="no-rooms" class="empty"${p.rooms.length > 0 ? html` hidden` : ''}>${t(lang, 'lobby.empty')}</p>
</main>`,
  });
}

export function newRoomPage(
  p: Reading & {
    error?: string;
    values?: { title?: string; max?: string };
    /** `?transport=...` to keep the visitor's chosen transport across the form, or ''. */
    query?: string;
  },
): string {
  const { lang } = p;
  return page({
    ...p,
    title: t(lang, 'newRoom.title'),
    body: html`<main class="narrow">
<h1>${t(lang, 'newRoom.heading')}</h1>
${errorMessage(p.error)}
<form class="card" action="/room${p.query ?? ''}" method="post">
  <label for="title">${t(lang, 'newRoom.roomTitle')}</label>
  <input id="title" name="title" required maxlength="${LIMITS.titleMax}" autocomplete="off" value="${p.values?.title ?? ''}">
  <label for="max">${t(lang, 'newRoom.max')}</label>
  <input id="max" name="max" type="number" min="${LIMITS.maxMin}" max="${LIMITS.maxMax}" value="${p.values?.max ?? LIMITS.maxDefault}">
  <label for="password">${t(lang, 'newRoom.password')} <span class="hint">${t(lang, 'newRoom.passwordHint')}</span></label>
  <input id="password" name="password" type="password" maxlength="${LIMITS.passwordMax}" autocomplete="new-password">
  ${formActions(lang, t(lang, 'newRoom.submit'))}
</form>
</main>`,
  });
}

export function passwordPage(p: Reading & { room: Room; error?: string; query?: string }): string {
  const { lang } = p;
  return page({
    ...p,
    title: p.room.title,
    body: html`<main class="narrow">
<h1>${p.room.title}</h1>
<p class="password-intro">${t(lang, 'password.intro')}</p>
${errorMessage(p.error)}
<form class="card" action="/room/${p.room.id}/enter${p.query ?? ''}" method="post">
  <label for="password">${t(lang, 'password.label')}</label>
  <input id="password" name="password" type="password" maxlength="${LIMITS.passwordMax}" required autocomplete="current-password" autofocus>
  ${formActions(lang, t(lang, 'password.submit'))}
</form>
</main>`,
  });
}

export function chatPage(
  p: Reading & {
    room: Room;
    user: string;
    userId: string;
    transport: TransportName;
    transports: readonly TransportName[];
  },
): string {
  const { lang } = p;
  return page({
    ...p,
    title: p.room.title,
    script: '/assets/chat.js',
    body: html`<main id="chat-page" class="chat" data-room="${p.room.id}" data-user="${p.user}" data-user-id="${p.userId}" data-owner-id="${p.room.ownerId ?? ''}" data-transport="${p.transport}">
<div class="title-row">
  <h1 class="room-title">${p.room.title}</h1>
  <a id="exit-btn" class="button" href="/">${t(lang, 'chat.leave')}</a>
</div>
<p class="me">${tHtml(lang, 'chat.you', { user: userTag(p.user) })} · <a id="inspect-link" href="/inspect?room=${p.room.id}">${t(lang, 'chat.inspectLink')}</a></p>
${transportBar(lang, p.transport, p.transports)}
<div class="chat-layout">
  <section class="chat-panel" aria-label="${t(lang, 'chat.messages')}">
    <ol id="chat-list" aria-live="polite"></ol>
    <p id="chat-error" class="error-message" role="alert" hidden></p>
    <p id="whisper-bar" class="whisper-bar" hidden>
      ${tHtml(lang, 'chat.whisperingTo', { user: html`<span id="whisper-target"></span>` })}
      <button id="whisper-clear" type="button">${t(lang, 'chat.stopWhisper')}</button>
    </p>
    <form id="chat-form" action="/room/${p.room.id}/chat" method="post" enctype="multipart/form-data">
      <label class="gif-button button" for="gif">GIF</label>
      <input id="gif" class="visually-hidden" name="gif" type="file" accept="image/gif">
      <label class="visually-hidden" for="chat">${t(lang, 'chat.message')}</label>
      <input id="chat" name="chat" maxlength="${LIMITS.chatMax}" autocomplete="off" placeholder="${t(lang, 'chat.placeholder')}">
      <button class="primary" type="submit">${t(lang, 'chat.send')}</button>
    </form>
  </section>
  <aside class="members-panel" aria-label="${t(lang, 'chat.members')}">
    <h2>${t(lang, 'chat.members')}</h2>
    <ul id="members"></ul>
    <p class="hint">${t(lang, 'chat.membersHint')}</p>
  </aside>
</div>
</main>`,
  });
}

/** One pane of /compare: filled by the page script (figures, chart, messages). */
function comparePane(lang: Language, name: TransportName): SafeHtml {
  const figure = (key: string) => html`<span data-figure="${key}">–</span>`;
  return html`<section class="pane" data-transport="${name}" aria-label="${name}">
  <header class="pane-header">
    <h2>${name}</h2>
    <span class="state" data-state="connecting">${t(lang, 'state.connecting')}</span>
    <span class="worker" data-worker="" hidden title="${t(lang, 'compare.workerNote')}"></span>
    <span class="pane-actions">
      <button type="button" data-action="drop" title="${t(lang, 'compare.dropTitle')}">${t(lang, 'compare.drop')}</button>
      <button type="button" data-action="offline" title="${t(lang, 'compare.offlineTitle')}">${t(lang, 'compare.offline')}</button>
    </span>
  </header>
  <dl class="figures">
    <dt>${t(lang, 'compare.latency')} <small>${t(lang, 'compare.latencyNote')}</small></dt>
    <dd>${tHtml(lang, 'compare.latencyFigures', { last: figure('latency-last'), median: figure('latency-median'), count: figure('latency-count') })}</dd>
    <dt>${t(lang, 'compare.server')} <small>/api/stats</small></dt>
    <dd>${tHtml(lang, 'compare.serverFigures', { requests: figure('server-requests'), in: figure('server-bytes-in'), out: figure('server-bytes-out'), open: figure('server-connections') })}</dd>
    <dt>${t(lang, 'compare.page')} <small>${t(lang, 'compare.pageNote')}</small></dt>
    <dd>${
      name === 'ws'
        ? tHtml(lang, 'compare.pageWs', {
            na: html`<span data-figure="page-requests">${t(lang, 'compare.notApplicable')}</span>`,
          })
        : tHtml(lang, 'compare.pageFigures', {
            requests: figure('page-requests'),
            bytes: figure('page-bytes'),
          })
    }</dd>
    <dt>${t(lang, 'compare.connection')}</dt>
    <dd>${tHtml(lang, 'compare.connectionFigures', { reconnects: figure('reconnects'), sent: figure('sent') })}</dd>
    <dt>${t(lang, 'compare.resume')}</dt>
    <dd class="resume">${tHtml(lang, 'compare.resumeFigures', { missed: figure('missed'), recovered: figure('recovered'), duplicated: figure('duplicated') })}</dd>
    <dd class="check" data-check="">${t(lang, 'compare.nothingYet')}</dd>
  </dl>
  <svg class="latency-chart" viewBox="0 0 300 70" role="img" aria-label="${t(lang, 'compare.chartLabel', { name })}">
    <line class="grid" x1="0" y1="35" x2="300" y2="35"></line>
    <polyline class="latency-line" points=""></polyline>
    <circle class="latency-dot" cx="297" cy="-10" r="2.5"></circle>
    <text class="chart-max" x="2" y="10">ms</text>
  </svg>
  <p class="pane-error error-message" role="alert" hidden></p>
  <ol class="pane-messages"></ol>
  <p class="network-note">${t(lang, `compare.network.${name}`)}</p>
</section>`;
}

/**
 * /compare?room=ID: one pane per running transport, each its own client in the same room
 * (PROTOCOL.md, Pages), one send box whose way up can be any of them, and what each one paid.
 */
export function comparePage(
  p: Reading & {
    room: Room;
    user: string;
    userId: string;
    transports: readonly TransportName[];
  },
): string {
  const { lang } = p;
  const figure = (key: string, initial: string) =>
    html`<span data-figure="${key}">${initial}</span>`;
  return page({
    ...p,
    title: t(lang, 'compare.title', { room: p.room.title }),
    script: '/assets/compare.js',
    body: html`<main id="compare-page" class="compare" data-room="${p.room.id}" data-user="${p.user}" data-user-id="${p.userId}" data-transports="${p.transports.join(' ')}">
<div class="title-row">
  <h1>${t(lang, 'compare.heading')} <span class="room-title">${p.room.title}</span></h1>
  <span class="compare-links">${tHtml(lang, 'compare.you', { user: userTag(p.user) })} · <a href="/room/${p.room.id}">${t(lang, 'compare.chatLink')}</a> · <a href="/inspect?room=${p.room.id}">${t(lang, 'compare.inspectLink')}</a> · <a href="/">${t(lang, 'compare.roomsLink')}</a></span>
</div>
<form id="send-form" class="send-bar">
  <label for="send-via">${t(lang, 'compare.sendVia')}</label>
  <select id="send-via" name="via">
${p.transports.map((name) => html`    <option value="${name}">${t(lang, `compare.up.${name}`)}</option>\n`)}  </select>
  <label class="visually-hidden" for="send-text">${t(lang, 'compare.message')}</label>
  <input id="send-text" name="chat" maxlength="${LIMITS.chatMax}" autocomplete="off" placeholder="${t(lang, 'compare.placeholder')}">
  <button class="primary" type="submit">${t(lang, 'compare.send')}</button>
  <button id="burst" type="button" title="${t(lang, 'compare.burstTitle')}">${t(lang, 'compare.burst')}</button>
  <span id="send-status" class="hint" aria-live="polite"></span>
</form>
<p id="up-figures" class="hint">${tHtml(lang, 'compare.upFigures', {
      postRequests: figure('post-requests', '0'),
      postBytes: figure('post-bytes', '0 B'),
      http: html`<code>http</code>`,
      httpRequests: figure('http-requests', '–'),
      httpIn: figure('http-bytes-in', '–'),
      httpOut: figure('http-bytes-out', '–'),
    })}</p>
<p id="compare-error" class="error-message" role="alert" hidden></p>
<div class="panes">
${p.transports.map((name) => comparePane(lang, name))}
</div>
<p class="hint">${t(lang, 'compare.footnote')}</p>
</main>`,
  });
}
