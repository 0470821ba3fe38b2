// SPDX-License-Identifier: MPL-2.0
// One conversation: the messages, their delivery state, the compose form, and safety numbers of
// the peer devices.
import { h, fmtTime } from './dom.js';
import { safetyPanel } from './safety.js';

const STATUS = {
  queued: 'I kø – sendes, når der er forbindelse',
  sent: 'Sendt',
  delivered: 'Leveret',
  consent: 'Ikke sendt: borgeren har ikke givet samtykke til at modtage beskeder fra kommunen',
  failed: 'Kunne ikke sendes',
  expired: 'Udløbet uden at blive hentet',
};

export function threadView(app, conv, title, peerLabel) {
  const msgs = app.client.messaging.thread(conv.id);
  queueMicrotask(() => app.client.messaging.markRead(conv.id));
  const list = h('ol', { class: 'messages', 'aria-label': 'Beskeder', id: 'messages' },
    msgs.map((m) => h('li', { class: m.mine ? 'msg mine' : 'msg theirs', 'data-status': m.status },
      h('p', { class: 'meta' }, h('span', { class: 'who' }, m.mine ? 'Dig' : peerLabel(m)), ' · ', h('time', {}, fmtTime(m.time))),
      h('p', { class: 'text' }, m.text),
      m.mine ? h('p', { class: `status status-${m.status}`, role: m.status === 'consent' ? 'alert' : null }, STATUS[m.status] ?? '') : null)));
  const area = h('textarea', { id: 'compose', name: 'besked', rows: 3, required: true, maxlength: 4000 });
  const form = h('form', { class: 'compose', onsubmit: async (ev) => {
    ev.preventDefault();
    const text = area.value.trim();
    if (!text) return;
    area.value = '';
    await app.client.messaging.sendText(conv, text);
    document.getElementById('compose')?.focus();
  } },
  h('label', { for: 'compose' }, 'Skriv en besked'), area, h('button', { type: 'submit' }, 'Send'));
  return h('section', { 'aria-labelledby': 'thread-title' },
    h('button', { type: 'button', class: 'link', onclick: () => app.go({ view: 'home' }) }, '← Tilbage'),
    h('h2', { id: 'thread-title', tabindex: '-1' }, title),
    msgs.length ? list : h('p', {}, 'Ingen beskeder endnu.'),
    form,
    safetyPanel(app, conv));
}
