// SPDX-License-Identifier: MPL-2.0
// The citizen's pages: municipalities and units to write to, consent per municipality, and a
// conversation per unit.
import { conversationKey } from '../app/conversation.js';
import { consentState, consentText, decide, GRANT, WITHDRAW } from '../app/consent.js';
import { directory } from '../app/directory.js';
import { h, fmtTime } from './dom.js';
import { threadView } from './thread.js';
import { consentInline } from './consentflow.js';

async function loadDirectory(app) {
  app.cache.directory ??= await directory(app.client);
  return app.cache.directory;
}

function unitConversation(app, t, u) {
  const id = conversationKey(app.client.device.acc, t.id, u.id);
  return app.client.messaging.conversations.get(id) ?? { id, ten: t.id, unit: u.id, unread: 0, last: 0 };
}

export function citizenHome(app) {
  const sec = h('section', { 'aria-labelledby': 'home-title' }, h('h2', { id: 'home-title', tabindex: '-1' }, 'Skriv til kommunen'), h('p', {}, 'Henter …'));
  loadDirectory(app).then((dir) => {
    sec.replaceChildren(sec.firstChild, h('p', {}, 'Vælg den enhed, du vil skrive med.'),
      ...dir.map((t) => h('div', { class: 'tenant' },
        h('h3', {}, t.name),
        h('ul', { class: 'units' }, t.units.map((u) => {
          const conv = unitConversation(app, t, u);
          const label = conv.unread ? `${u.name} (${conv.unread} ulæste)` : u.name;
          return h('li', {}, h('button', { type: 'button', class: 'conv', 'data-unit': u.id,
            onclick: () => app.go({ view: 'thread', conv: conv.id, ten: t.id, unit: u.id }) }, label),
          conv.last ? h('span', { class: 'when' }, ` senest ${fmtTime(conv.last)}`) : null);
        })))));
  }).catch(() => sec.replaceChildren(sec.firstChild, h('p', { role: 'alert' }, 'Kommunerne kan ikke hentes uden forbindelse.')));
  return sec;
}

export function citizenThread(app, route) {
  const dir = app.cache.directory ?? [];
  const t = dir.find((x) => x.id === route.ten) ?? { id: route.ten, name: route.ten, units: [] };
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

