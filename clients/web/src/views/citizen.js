// SPDX-License-Identifier: MPL-2.0
// The citizen's pages: conversations with their newest message (starting one with a unit is
// the secondary action), consent per municipality, and a conversation per unit.
import { conversationKey } from '../app/conversation.js';
import { consentState, consentText, decide, GRANT, WITHDRAW } from '../app/consent.js';
import { directory } from '../app/directory.js';
import { h, fmtTime } from './dom.js';
import { threadView } from './thread.js';
import { consentInline } from './consentflow.js';

// The directory of municipalities and units needs the relay; the last one fetched is kept so the
// conversation list has its names when the app starts offline.
const DIRECTORY_KEY = 'wakks.directory';
async function loadDirectory(app) {
  if (app.cache.directory) return app.cache.directory;
  try {
    app.cache.directory = await directory(app.client);
    localStorage.setItem(DIRECTORY_KEY, JSON.stringify(app.cache.directory));
    return app.cache.directory;
  } catch (e) {
    const kept = JSON.parse(localStorage.getItem(DIRECTORY_KEY) ?? 'null');
    if (Array.isArray(kept)) return kept;
    throw e;
  }
}
function knownDirectory() {
  try { return JSON.parse(localStorage.getItem(DIRECTORY_KEY) ?? '[]'); } catch { return []; }
}

function unitConversation(app, t, u) {
  const id = conversationKey(app.client.device.acc, t.id, u.id);
  return app.client.messaging.conversations.get(id) ?? { id, ten: t.id, unit: u.id, unread: 0, last: 0 };
}

// One line of the newest message: its text, or the file it carries.
function preview(m) {
  if (!m) return 'Ingen beskeder endnu';
  const what = m.file ? `Vedhæftet fil: ${m.file.name}` : m.text.replace(/\s+/g, ' ');
  const line = m.mine ? `Dig: ${what}` : what;
  return line.length > 90 ? `${line.slice(0, 89)}…` : line;
}

function conversationItem(app, dir, conv) {
  const t = dir.find((x) => x.id === conv.ten);
  const u = t?.units.find((x) => x.id === conv.unit);
  const brand = app.branding?.get(conv.ten);
  const unitName = u?.name ?? conv.title?.split(', ')[0] ?? conv.unit;
  const tenantName = brand?.display_name ?? t?.name ?? conv.ten;
  const last = app.client.messaging.thread(conv.id).at(-1);
  return h('li', { class: conv.unread ? 'unread' : null },
    h('button', { type: 'button', class: 'conv', 'data-unit': conv.unit, 'data-tenant': conv.ten,
      onclick: () => app.go({ view: 'thread', conv: conv.id, ten: conv.ten, unit: conv.unit }) },
    brand?.logo ? h('img', { class: 'conv-logo', src: brand.logo, alt: '' }) : h('span', { class: 'conv-logo conv-initial', 'aria-hidden': 'true' }, unitName.slice(0, 1)),
    h('span', { class: 'conv-body' },
      h('span', { class: 'conv-top' },
        h('span', { class: 'title' }, unitName),
        conv.last ? h('time', { class: 'when' }, fmtTime(conv.last)) : null),
      h('span', { class: 'conv-tenant' }, tenantName),
      h('span', { class: 'preview' }, preview(last)),
      conv.unread ? h('span', { class: 'badge' }, `${conv.unread} ulæste`) : null)));
}

// Units the citizen has not written with yet, per municipality: starting a conversation.
function newConversation(app, dir, started, open) {
  const groups = dir.map((t) => ({ t, units: t.units.filter((u) => !started.has(conversationKey(app.client.device.acc, t.id, u.id))) }))
    .filter((g) => g.units.length);
  if (!groups.length) return null;
  const body = groups.map(({ t, units }) => h('div', { class: 'tenant' },
    h('h3', {}, app.branding?.get(t.id)?.display_name ?? t.name),
    h('ul', { class: 'units' }, units.map((u) => {
      const conv = unitConversation(app, t, u);
      return h('li', {}, h('button', { type: 'button', class: 'conv secondary', 'data-unit': u.id, 'data-tenant': t.id,
        onclick: () => app.go({ view: 'thread', conv: conv.id, ten: t.id, unit: u.id }) }, u.name));
    }))));
  if (open) return h('div', { class: 'new-conv' }, h('p', {}, 'Vælg, hvem du vil skrive med.'), body);
  return h('details', { class: 'new-conv' }, h('summary', {}, 'Ny samtale'), body);
}

export function citizenHome(app) {
  const title = h('h2', { id: 'home-title', tabindex: '-1' }, 'Samtaler');
  const sec = h('section', { 'aria-labelledby': 'home-title', class: 'home' }, title);
  const convs = app.client.messaging.inbox().filter((c) => c.ten && c.unit && (c.last || app.client.messaging.thread(c.id).length));
  const started = new Set(convs.map((c) => c.id));
  const list = (dir) => (convs.length ? h('ul', { class: 'conversations', 'aria-labelledby': 'home-title' }, convs.map((c) => conversationItem(app, dir, c)))
    : h('p', {}, 'Du har ingen samtaler endnu.'));
  // The conversations come from this device's own store and show at once, also offline.
  sec.append(list(app.cache.directory ?? knownDirectory()), h('p', {}, 'Henter …'));
  loadDirectory(app).then((dir) => {
    sec.replaceChildren(title, list(dir), newConversation(app, dir, started, !convs.length) ?? '');
  }).catch(() => sec.replaceChildren(title, list(knownDirectory()),
    h('p', { role: 'status' }, 'Du kan starte en ny samtale, når der er forbindelse.')));
  return sec;
}

export function citizenThread(app, route) {
  const dir = app.cache.directory ?? knownDirectory();
  const found = dir.find((x) => x.id === route.ten) ?? { id: route.ten, name: route.ten, units: [] };
  const t = { ...found, name: app.branding?.get(found.id)?.display_name ?? found.name };
  const u = t.units.find((x) => x.id === route.unit) ?? { id: route.unit, name: route.unit };
  const conv = app.client.messaging.ensureConversation(route.conv, { ten: t.id, unit: u.id, title: `${u.name}, ${t.name}` });
  const view = threadView(app, conv, `${u.name}, ${t.name}`, () => u.name);
  view.querySelector('form.compose')?.before(consentInline(app, t.id, u.id, u.name, t.name)); // issue 19: consent in the flow
  return view;
}

export function consentView(app) {
  const sec = h('section', { 'aria-labelledby': 'consent-title' }, h('h2', { id: 'consent-title', tabindex: '-1' }, 'Samtykke'), h('p', {}, 'Henter …'));
  const status = h('p', { role: 'status', id: 'consent-status' });
  Promise.all([loadDirectory(app), consentState(app.client)]).then(([dir, state]) => {
    sec.replaceChildren(sec.firstChild,
      h('p', {}, 'Din kommune kan kun skrive til dig her, når du har givet samtykke. Du kan altid skrive til kommunen, og du kan trække samtykket tilbage når som helst.'),
      status,
      ...dir.map((t) => {
        const s = state[t.id];
        const box = h('div', { class: 'consent-text' });
        const read = h('button', { type: 'button', 'data-tenant': t.id, onclick: async () => {
          const text = await consentText(t.id).catch(() => null);
          if (!text) { box.replaceChildren(h('p', { role: 'alert' }, 'Teksten kan ikke hentes.')); return; }
          const act = (kind) => async () => {
            try {
              await decide(app.client, kind, text);
              status.textContent = kind === GRANT ? `Du har givet samtykke til ${t.name}.` : `Du har trukket dit samtykke til ${t.name} tilbage.`;
              app.go({ view: 'consent' }, status.textContent);
            } catch { status.textContent = 'Det lykkedes ikke. Prøv igen.'; }
          };
          box.replaceChildren(
            h('h4', {}, `Samtykketekst, version ${text.version}`),
            h('div', { class: 'legal', lang: text.language || 'da', tabindex: '0', 'aria-label': 'Samtykketekst' }, text.text.split(/\n\s*\n/).map((p) => h('p', {}, p))),
            s?.active ? h('button', { type: 'button', id: `withdraw-${t.id}`, class: 'secondary', onclick: act(WITHDRAW) }, 'Træk samtykke tilbage')
              : h('button', { type: 'button', id: `grant-${t.id}`, onclick: act(GRANT) }, 'Giv samtykke'));
          box.querySelector('button')?.focus();
        } }, 'Læs samtykketekst');
        return h('div', { class: 'tenant' }, h('h3', {}, t.name),
          h('p', { class: s?.active ? 'ok' : '' }, s?.active ? `Samtykke givet ${fmtTime(s.time)}` : s ? `Samtykke trukket tilbage ${fmtTime(s.time)}` : 'Intet samtykke'),
          read, box);
      }));
    if (app.flash) { status.textContent = app.flash; app.flash = null; }
  }).catch(() => sec.replaceChildren(sec.firstChild, h('p', { role: 'alert' }, 'Samtykker kan ikke hentes uden forbindelse.')));
  return sec;
}

