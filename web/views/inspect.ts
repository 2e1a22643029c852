import type { Room, TransportName } from '../../core/model.ts';
import { LIMITS } from '../../core/model.ts';
import { html, type SafeHtml } from './html.ts';
import { type Language, t } from './i18n/index.ts';
import { page, tHtml, userTag } from './pages.ts';
import { PART_KINDS } from './wire-report.ts';

/**
 * /inspect?room=ID, the protocol inspector (issue 17): one pane per running transport, filled by
 * its script (`client/inspect.ts`) with the bytes that carried the last message sent here. The
 * markup a program reads, in each `[data-transport="NAME"]` pane:
 * - `[data-section="down"] [data-part="total"]`: `data-bytes` is the whole delivery (every byte
 *   the server wrote for the message to this page's client), and `[data-figure="stats-out"]`
 *   beside it what /api/stats counted out for the transport meanwhile;
 * - `.unit[data-direction][data-bytes]`, one per unit (a head, a chunk, a body, a frame), and in
 *   it `.part[data-part=KIND][data-bytes]`, one per marked part (KIND as in `PART_KINDS`), whose
 *   `.text` is its text and `.hex` its bytes; `.hexdump` is the classic 16-byte-row dump;
 * - `[data-section="up"]`: the same for the way up, `[data-part="up-total"]` its total.
 * Sent over ws or Socket.IO (`#inspect-via`), that transport's pane also wrote the acknowledgement
 * (`sent`, `43…`): /api/stats then counts the delivery plus `[data-figure="ack"]`.
 */

export function inspectPage(p: {
  lang: Language;
  switchHref?: string;
  room: Room;
  user: string;
  userId: string;
  transports: readonly TransportName[];
}): string {
  const { lang } = p;
  return page({
    ...p,
    title: t(lang, 'inspect.title', { room: p.room.title }),
    script: '/assets/inspect.js',
    body: html`<main id="inspect-page" class="inspect" data-room="${p.room.id}" data-user-id="${p.userId}" data-transports="${p.transports.join(' ')}">
<div class="title-row">
  <h1>${t(lang, 'inspect.heading')} <span class="room-title">${p.room.title}</span></h1>
  <span class="compare-links">${tHtml(lang, 'compare.you', { user: userTag(p.user) })} · <a href="/room/${p.room.id}">${t(lang, 'compare.chatLink')}</a> · <a href="/compare?room=${p.room.id}">${t(lang, 'inspect.compareLink')}</a> · <a href="/">${t(lang, 'compare.roomsLink')}</a></span>
</div>
<p class="hint">${t(lang, 'inspect.intro')}</p>
<form id="inspect-form" class="send-bar">
  <label for="inspect-via">${t(lang, 'inspect.via')}</label>
  <select id="inspect-via" name="via">
    <option value="post">${t(lang, 'inspect.via.post')}</option>
${p.transports.filter((name) => name === 'ws' || name === 'socketio').map((name) => html`    <option value="${name}">${t(lang, `inspect.via.${name}`)}</option>\n`)}  </select>
  <label for="inspect-text">${t(lang, 'inspect.message')}</label>
  <input id="inspect-text" name="chat" maxlength="${LIMITS.chatMax}" autocomplete="off" placeholder="${t(lang, 'inspect.placeholder')}">
  <button class="primary" type="submit">${t(lang, 'inspect.send')}</button>
  <span id="inspect-status" class="hint" aria-live="polite">${t(lang, 'inspect.waiting')}</span>
</form>
<p id="inspect-error" class="error-message" role="alert" hidden></p>
<details class="legend" open>
  <summary>${t(lang, 'inspect.legend')}</summary>
  <ul>
${PART_KINDS.map((kind) => html`    <li><span class="part-swatch k-${kind}"></span> <code>${kind}</code> ${t(lang, `inspect.part.${kind}`)}</li>\n`)}  </ul>
</details>
<div class="wire-panes">
${p.transports.map((name) => wirePane(lang, name))}
</div>
<p class="hint">${t(lang, 'inspect.footnote')}</p>
</main>`,
  });
}

function wirePane(lang: Language, name: TransportName): SafeHtml {
  return html`<section class="pane wire-pane" data-transport="${name}">
  <h2>${name} <span class="state" data-state="connecting">${t(lang, 'state.connecting')}</span></h2>
  <p class="network-note">${t(lang, `inspect.network.${name}`)}</p>
  <div data-section="down">
    <h3>${t(lang, 'inspect.down')}</h3>
    <p class="totals">${tHtml(lang, 'inspect.totals', {
      total: html`<strong data-part="total" data-bytes="">–</strong>`,
      stats: html`<span data-figure="stats-out">–</span>`,
    })} <span class="ack" hidden>${tHtml(lang, 'inspect.withAck', { ack: html`<span data-figure="ack">0</span>` })}</span> <span class="check" data-check=""></span></p>
    <div class="dump"></div>
  </div>
  <details data-section="up">
    <summary>${tHtml(lang, 'inspect.up', { total: html`<strong data-part="up-total" data-bytes="">–</strong>` })}</summary>
    <div class="dump"></div>
  </details>
</section>
`;
}
