// SPDX-License-Identifier: MPL-2.0
// One conversation: the messages, their delivery state, attachments (images inline, other files
// to download), the compose form with a file picker, and safety numbers of the peer devices.
import { h, fmtSize, fmtTime } from './dom.js';
import { MAX_FILE_BYTES } from '../app/messaging.js';
import { safetyPanel } from './safety.js';
import { composeKeys } from './workday.js';

const STATUS = {
  queued: 'I kø – sendes, når der er forbindelse',
  sent: 'Sendt',
  delivered: 'Leveret',
  consent: 'Ikke sendt: borgeren har ikke givet samtykke til at modtage beskeder fra kommunen',
  failed: 'Kunne ikke sendes',
  expired: 'Udløbet uden at blive hentet',
  too_large: 'Kunne ikke sendes: filen er for stor, eller der er ikke mere plads til vedhæftede filer',
};

// Raster images are shown inline; everything else (and SVG) is offered for download only.
const INLINE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
// Object URLs of the files shown, by message id: made once per page, not on every re-render.
const urls = new Map();

function attachmentView(app, m) {
  const f = m.file;
  const label = `${f.name} (${fmtSize(f.size)})`;
  if (f.error) {
    return h('p', { class: 'attachment error' }, f.error === 'missing'
      ? `Den vedhæftede fil ${label} kunne ikke hentes.`
      : `Den vedhæftede fil ${label} kunne ikke bekræftes og er ikke åbnet.`);
  }
  const img = INLINE.has(f.mediaType) ? h('img', { class: 'attachment-image', alt: `Billede: ${f.name}` }) : null;
  const link = h('a', { class: 'attachment-link', download: f.name, 'data-msg': m.id }, `Hent ${label}`);
  const fill = (u) => { if (img) img.src = u; link.href = u; };
  if (urls.has(m.id)) fill(urls.get(m.id));
  else {
    app.client.messaging.file(m.id).then((bytes) => {
      if (!bytes) return;
      if (!urls.has(m.id)) urls.set(m.id, URL.createObjectURL(new Blob([bytes], { type: f.mediaType })));
      fill(urls.get(m.id));
    }).catch(() => {});
  }
  return h('div', { class: 'attachment' }, img, h('p', {}, link));
}

function statusText(m) {
  if (m.readAt && m.status !== 'failed' && m.status !== 'consent') return `Læst ${fmtTime(m.readAt)}`; // read receipts (issue 19)
  if (m.status === 'queued' && m.progress !== undefined) return `Sender vedhæftet fil … ${m.progress} %`;
  return STATUS[m.status] ?? '';
}

// A thread opens at its newest message, and stays there as messages arrive while the reader is
// at the end; someone reading older messages is left where they are.
function keepNewestInView(conv, list) {
  const shown = document.getElementById('messages')?.dataset.conv === conv.id;
  const atEnd = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
  if (shown && !atEnd) return;
  // Opening: the newest message mid-screen; a new one while writing: the least movement.
  requestAnimationFrame(() => list.lastElementChild?.scrollIntoView({ block: shown ? 'nearest' : 'center' }));
}

/** `opts`: notice(m) renders a system notice (else it is not shown), ours(m) whether a message
 * is of this side (its delivery state shown), more(m) further lines under a message. */
export function threadView(app, conv, title, peerLabel, opts = {}) {
  const msgs = app.client.messaging.thread(conv.id);
  queueMicrotask(() => app.client.messaging.markRead(conv.id));
  const list = h('ol', { class: 'messages', 'aria-label': 'Beskeder', id: 'messages', 'data-conv': conv.id, tabindex: '0' },
    msgs.map((m) => (m.notice ? opts.notice?.(m) : h('li', { class: m.mine ? 'msg mine' : 'msg theirs', 'data-status': m.status, 'data-read': m.readAt ? 'true' : null },
      h('p', { class: 'meta' }, h('span', { class: 'who' }, m.mine ? 'Dig' : peerLabel(m)), ' · ', h('time', {}, fmtTime(m.time))),
      m.file ? attachmentView(app, m) : h('p', { class: 'text' }, m.text),
      m.mine || (opts.ours?.(m)) ? h('p', { class: `status status-${m.readAt ? 'read' : m.status}`, role: m.status === 'consent' || m.status === 'too_large' ? 'alert' : null }, statusText(m)) : null,
      opts.more?.(m)))));
  const area = h('textarea', { id: 'compose', name: 'besked', rows: 3, maxlength: 4000 });
  const picker = h('input', { type: 'file', id: 'attach', name: 'filer', multiple: true, 'aria-describedby': 'attach-help' });
  const problem = h('p', { id: 'compose-problem', class: 'error', role: 'alert' });
  const form = h('form', { class: 'compose', onsubmit: async (ev) => {
    ev.preventDefault();
    const text = area.value.trim();
    const files = [...(picker.files ?? [])];
    problem.textContent = '';
    if (!text && !files.length) { problem.textContent = 'Skriv en besked, eller vælg en fil.'; return; }
    const big = files.filter((f) => f.size > MAX_FILE_BYTES);
    if (big.length) { problem.textContent = `For stor fil: ${big.map((f) => f.name).join(', ')}. En fil må højst fylde 25 MB.`; return; }
    area.value = '';
    picker.value = '';
    // The text first, then one message per file (as the command-line client does).
    if (text) await app.client.messaging.sendText(conv, text);
    for (const f of files) {
      await app.client.messaging.sendFile(conv, { name: f.name, type: f.type, bytes: new Uint8Array(await f.arrayBuffer()) });
    }
    document.getElementById('compose')?.focus();
  } },
  h('label', { for: 'attach' }, 'Vedhæft filer'),
  h('p', { id: 'attach-help', class: 'help' }, 'Fx billeder eller dokumenter, højst 25 MB pr. fil. Filerne krypteres, før de sendes.'),
  picker,
  h('label', { for: 'compose' }, 'Skriv en besked'), area, problem, h('button', { type: 'submit' }, 'Send'));
  composeKeys(area, form); // Enter sends, Shift+Enter breaks the line (configurable)
  keepNewestInView(conv, list);
  return h('section', { 'aria-labelledby': 'thread-title', class: 'thread' },
    h('div', { class: 'thread-head' },
      h('button', { type: 'button', class: 'link', onclick: () => app.go({ view: 'home' }) }, '← Tilbage'),
      h('h2', { id: 'thread-title', tabindex: '-1' }, title)),
    msgs.length ? list : h('p', {}, 'Ingen beskeder endnu.'),
    form,
    safetyPanel(app, conv));
}
