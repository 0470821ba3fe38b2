// SPDX-License-Identifier: MPL-2.0
// The caseworker's pages: the unit's team inbox, a conversation with a citizen, and finding a
// citizen by CPR number.
import { toHex } from '../crypto/bytes.js';
import { conversationKey } from '../app/conversation.js';
import { lookupCitizen, normaliseCpr } from '../app/directory.js';
import { h, fmtTime, short } from './dom.js';
import { threadView } from './thread.js';
import { phrasePicker, workdayView } from './workday.js';
import { colleagueName, consentLine, identityLine, journalLine, noticeLine, threadActions } from './threadparts.js';
import { journalStatus } from '../app/threadstate.js';

const citizenTitle = (conv) => (conv.identity?.ok ? conv.identity.name : conv.label ?? (conv.citizen ? `Borger ${short(conv.citizen)}` : 'Ukendt borger'));

export function inboxView(app) {
  return workdayView(app, { view: 'home' }, { titleOf: citizenTitle, threadOf: (conv) => threadPane(app, conv) });
}

export function caseworkerThread(app, route) {
  return workdayView(app, route, { titleOf: citizenTitle, threadOf: (conv) => threadPane(app, conv) });
}

function threadPane(app, conv) {
  const me = toHex(app.client.device.acc);
  const journal = journalStatus(app.client.messaging.thread(conv.id));
  const view = threadView(app, conv, citizenTitle(conv), (m) => (m.senderAcc === conv.citizen ? (conv.identity?.ok ? conv.identity.name : 'Borger') : colleagueName(app, m.senderAcc)), {
    notice: (m) => noticeLine(app, conv, m, me),
    ours: (m) => m.senderAcc !== conv.citizen,
    more: (m) => journalLine(journal.get(m.id)),
  });
  if (conv.consent) {
    const note = conv.consent === 'granted'
      ? h('p', { class: 'ok consent-note' }, `Borgeren har givet samtykke ${fmtTime(conv.consentTime)}.`)
      : h('p', { class: 'error consent-note', role: 'alert' }, `Borgeren har trukket sit samtykke tilbage ${fmtTime(conv.consentTime)}. Du kan ikke skrive til borgeren, før borgeren giver samtykke igen.`);
    view.querySelector('h2').after(note);
  }
  view.querySelector('h2').after(identityLine(app, conv), threadActions(app, conv, me), consentLine(app, conv));
  const picker = phrasePicker(app, view.querySelector('#compose'));
  if (picker) view.querySelector('form.compose label[for=compose]')?.before(picker);
  return view;
}

export function lookupView(app) {
  const out = h('div', { id: 'lookup-result', role: 'status' });
  const input = h('input', { id: 'cpr', name: 'cpr', inputmode: 'numeric', autocomplete: 'off', 'aria-describedby': 'cpr-help', required: true });
  const form = h('form', { onsubmit: async (ev) => {
    ev.preventDefault();
    const cpr = normaliseCpr(input.value);
    if (!cpr) { out.replaceChildren(h('p', { class: 'error' }, 'Skriv et CPR-nummer med 10 cifre.')); return; }
    out.replaceChildren(h('p', {}, 'Søger …'));
    try {
      const r = await lookupCitizen(app.client, cpr);
      if (!r.reach || !r.acc) { out.replaceChildren(h('p', {}, 'Borgeren kan ikke kontaktes her: borgeren bruger ikke løsningen eller har ikke givet samtykke til kommunen.')); return; }
      const d = app.client.device;
      const id = conversationKey(r.acc, d.tenant, d.unit);
      const masked = `Borger ${cpr.slice(0, 6)}-xxxx`;
      out.replaceChildren(h('p', { class: 'ok' }, 'Borgeren kan kontaktes.'),
        h('button', { type: 'button', id: 'lookup-write', onclick: () => {
          app.client.messaging.ensureConversation(id, { citizen: toHex(r.acc), ten: d.tenant, unit: d.unit, label: masked });
          app.go({ view: 'thread', conv: id });
        } }, 'Skriv til borgeren'));
    } catch (e) {
      out.replaceChildren(h('p', { class: 'error' }, e.code === 'unknown_type' ? 'Opslag på CPR-nummer understøttes ikke af denne server endnu.'
        : e.code === 'rate_limited' ? 'For mange opslag. Vent lidt, og prøv igen.' : 'Opslaget mislykkedes.'));
    }
  } },
  h('label', { for: 'cpr' }, 'CPR-nummer'),
  h('p', { id: 'cpr-help', class: 'help' }, '10 cifre, med eller uden bindestreg. Nummeret gemmes ikke.'),
  input, h('button', { type: 'submit' }, 'Søg'));
  return h('section', { 'aria-labelledby': 'lookup-title' }, h('h2', { id: 'lookup-title', tabindex: '-1' }, 'Find borger'), form, out);
}

