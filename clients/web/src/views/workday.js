// SPDX-License-Identifier: MPL-2.0
// The caseworker's working screen: the thread list (filters, search) and the reading pane side by
// side on a desk screen, one of them at a time on a phone; the compose keys (Enter sends,
// Shift+Enter breaks the line, or Ctrl+Enter sends when the person prefers); the unit's standard
// phrases; the settings page; and log-out from the header.
import { toHex } from '../crypto/bytes.js';
import { FILTERS, listThreads, snippet } from '../app/inbox.js';
import { phrases, savePhrases, saveSettings, settings, MAX_PHRASE_CHARS, MAX_PHRASE_NAME } from '../app/settings.js';
import { askNotifications, notificationPermission, notificationsPossible } from './attention.js';
import { subscribePush } from '../app/push.js';
import { h, fmtTime } from './dom.js';
import { colleagueName } from './threadparts.js';

// What the list and the reading pane keep while the page runs (not stored).
const ui = { filter: 'all', q: '' };

/** The list pane and the reading pane. `thread` is the reading pane's content or null. */
export function workdayView(app, route, { titleOf, threadOf }) {
  const c = app.client;
  const d = c.device;
  const m = c.messaging;
  const me = toHex(d.acc);
  const rows = listThreads(m.inbox().filter((x) => x.citizen), {
    filter: ui.filter, me, q: ui.q, titleOf,
    textsOf: (id) => m.thread(id).map((x) => x.text || x.file?.name || ''),
  });
  const open = route.view === 'thread' ? m.conversations.get(route.conv) : null;
  const filters = h('div', { class: 'filters', role: 'group', 'aria-label': 'Vis samtaler' }, FILTERS.map(([id, label]) =>
    h('button', { type: 'button', class: 'filter', 'data-filter': id, 'aria-pressed': ui.filter === id ? 'true' : 'false',
      onclick: () => { ui.filter = id; app.render(); } }, label)));
  const search = h('input', { id: 'inbox-search', type: 'search', name: 'soeg', value: ui.q, autocomplete: 'off', 'aria-describedby': 'inbox-count' });
  search.addEventListener('input', () => {
    ui.q = search.value;
    clearTimeout(ui.t);
    ui.t = setTimeout(() => app.render(), 150);
  });
  const count = ui.q || ui.filter !== 'all' ? `${rows.length} ${rows.length === 1 ? 'samtale' : 'samtaler'}` : '';
  const list = rows.length ? h('ul', { class: 'inbox' }, rows.map(({ conv, hit }) => {
    const last = m.thread(conv.id).filter((x) => !x.notice).at(-1);
    const preview = hit !== null && ui.q ? snippet(hit, ui.q) : last ? (last.file ? `Vedhæftet fil: ${last.file.name}` : last.text.slice(0, 80)) : '';
    return h('li', { class: [conv.unread ? 'unread' : '', open?.id === conv.id ? 'current' : ''].join(' ').trim() },
      h('button', { type: 'button', class: 'conv', 'data-citizen': conv.citizen, 'data-conv': conv.id, 'aria-current': open?.id === conv.id ? 'true' : null,
        onclick: () => app.go({ view: 'thread', conv: conv.id }) },
      h('span', { class: 'title' }, titleOf(conv)),
      conv.unread ? h('span', { class: 'badge' }, `${conv.unread} ulæste`) : null),
      h('span', { class: 'when' }, ` ${fmtTime(conv.last)}`),
      stateLine(app, conv, me),
      preview ? h('p', { class: 'preview' }, preview) : null);
  })) : h('p', { class: 'empty' }, ui.q ? 'Ingen samtaler passer til søgningen.' : ui.filter === 'all' ? 'Ingen samtaler endnu.' : 'Ingen samtaler her.');
  const listPane = h('section', { class: 'pane-list', 'aria-labelledby': 'inbox-title' },
    h('h2', { id: 'inbox-title', tabindex: '-1' }, d.unitName ? `Indbakke – ${d.unitName}, ${d.tenantName}` : 'Indbakke'),
    d.unit ? null : h('p', { role: 'alert' }, 'Din enhed kendes endnu ikke; den findes, når der er forbindelse.'),
    notifyOffer(app),
    filters,
    h('label', { for: 'inbox-search' }, 'Søg i samtaler'),
    search,
    h('p', { id: 'inbox-count', class: 'help', role: 'status' }, count),
    list);
  const reading = open ? threadOf(open) : h('section', { class: 'placeholder', 'aria-label': 'Læsevindue' }, h('p', {}, 'Vælg en samtale i listen.'));
  return h('div', { class: 'workday', 'data-open': open ? 'thread' : 'list' }, listPane, h('div', { class: 'pane-read' }, reading));
}

/** Who has the thread and how far it is, when something is known. */
function stateLine(app, conv, me) {
  const parts = [];
  if (conv.assignee) parts.push(conv.assignee === me ? 'Min' : `Hos ${colleagueName(app, conv.assignee)}`);
  if (conv.state === 'answered') parts.push('Besvaret');
  if (conv.state === 'closed') parts.push('Lukket');
  if (conv.consent === 'withdrawn') parts.push('Samtykke trukket tilbage');
  return parts.length ? h('p', { class: 'state' }, parts.join(' · ')) : null;
}

/** Asks for permission (from a click), and once granted lets pushes reach this browser too. */
async function enableNotifications(app) {
  if (await askNotifications() === 'granted') subscribePush(app.client, { ask: false }).catch(() => {});
  saveSettings({ notifyOffer: false });
  app.render();
}

/** Offers desktop notifications once, inside the inbox, until accepted or declined. */
function notifyOffer(app) {
  if (!notificationsPossible() || notificationPermission() !== 'default' || !settings().notifyOffer) return null;
  return h('div', { class: 'offer' },
    h('p', {}, 'Vil du have besked på skrivebordet, når der kommer en ny besked, mens du arbejder i et andet vindue?'),
    h('button', { type: 'button', id: 'notify-yes', onclick: () => enableNotifications(app) }, 'Ja tak'),
    ' ',
    h('button', { type: 'button', class: 'secondary', id: 'notify-no', onclick: () => { saveSettings({ notifyOffer: false }); app.render(); } }, 'Nej tak'));
}

/** Enter sends (Shift+Enter is a new line), or Ctrl+Enter sends when the setting is off. */
export function composeKeys(area, form) {
  area.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.isComposing) return;
    const send = settings().enterSends ? !ev.shiftKey && !ev.altKey : ev.ctrlKey || ev.metaKey;
    if (!send) return;
    ev.preventDefault();
    form.requestSubmit();
  });
  const hint = settings().enterSends ? 'Enter sender, Shift+Enter giver ny linje.' : 'Ctrl+Enter sender, Enter giver ny linje.';
  const p = h('p', { id: 'compose-keys', class: 'help' }, hint);
  area.setAttribute('aria-describedby', 'compose-keys');
  area.before(p);
}

/** The unit's standard phrases, inserted at the cursor of the compose field. */
export function phrasePicker(app, area) {
  const d = app.client.device;
  const list = phrases(d.tenant, d.unit);
  if (!list.length) return null;
  const sel = h('select', { id: 'phrase', name: 'standardtekst' },
    h('option', { value: '' }, 'Vælg en standardtekst …'),
    list.map((p, i) => h('option', { value: String(i) }, p.name)));
  sel.addEventListener('change', () => {
    const p = list[Number(sel.value)];
    if (!p || sel.value === '') return;
    const at = area.selectionStart ?? area.value.length;
    area.value = area.value.slice(0, at) + p.text + area.value.slice(area.selectionEnd ?? at);
    sel.value = '';
    area.focus();
    area.selectionStart = area.selectionEnd = at + p.text.length;
  });
  return h('div', { class: 'phrases' }, h('label', { for: 'phrase' }, 'Standardtekster'), sel);
}

export function settingsView(app) {
  const c = app.client;
  const s = settings();
  const status = h('p', { id: 'settings-status', role: 'status' });
  const enter = h('input', { type: 'checkbox', id: 'set-enter', checked: s.enterSends });
  enter.addEventListener('change', () => { saveSettings({ enterSends: enter.checked }); status.textContent = 'Gemt.'; });
  const perm = notificationPermission();
  const notify = !notificationsPossible() ? h('p', {}, 'Denne browser kan ikke vise skrivebordsbeskeder.')
    : perm === 'granted' ? h('p', { class: 'ok' }, 'Skrivebordsbeskeder er slået til.')
      : perm === 'denied' ? h('p', {}, 'Skrivebordsbeskeder er afvist i browseren. De slås til i browserens indstillinger for siden.')
        : h('button', { type: 'button', id: 'set-notify', onclick: () => enableNotifications(app) }, 'Slå skrivebordsbeskeder til');
  const sec = h('section', { 'aria-labelledby': 'settings-title' },
    h('h2', { id: 'settings-title', tabindex: '-1' }, 'Indstillinger'),
    status,
    h('h3', {}, 'Skrive'),
    h('div', { class: 'check' }, enter, h('label', { for: 'set-enter' }, 'Enter sender beskeden (Shift+Enter giver ny linje). Uden flueben sender Ctrl+Enter.')),
    h('h3', {}, 'Skrivebordsbeskeder'),
    notify);
  if (!c.isCitizen && c.device.unit) sec.append(phraseEditor(app, status));
  return sec;
}

function phraseEditor(app, status) {
  const d = app.client.device;
  const list = phrases(d.tenant, d.unit);
  const save = (next) => { savePhrases(d.tenant, d.unit, next); status.textContent = 'Standardteksterne er gemt.'; app.render(); };
  const name = h('input', { id: 'phrase-name', name: 'navn', maxlength: MAX_PHRASE_NAME, autocomplete: 'off' });
  const text = h('textarea', { id: 'phrase-text', name: 'tekst', rows: 3, maxlength: MAX_PHRASE_CHARS });
  const problem = h('p', { class: 'error', role: 'alert', id: 'phrase-problem' });
  return h('div', { class: 'phrase-editor' },
    h('h3', {}, `Standardtekster for ${d.unitName || d.unit}`),
    h('p', { class: 'help' }, 'Teksterne gemmes i denne browser og kan indsættes, når du skriver.'),
    list.length ? h('ul', { class: 'phrase-list' }, list.map((p, i) => {
      const edit = h('textarea', { id: `phrase-edit-${i}`, rows: 2, maxlength: MAX_PHRASE_CHARS }, p.text);
      return h('li', {},
        h('label', { for: `phrase-edit-${i}` }, p.name), edit,
        h('button', { type: 'button', class: 'secondary', onclick: () => save(list.map((x, j) => (j === i ? { ...x, text: edit.value } : x))) }, `Gem ${p.name}`),
        ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => save(list.filter((_, j) => j !== i)) }, `Slet ${p.name}`));
    })) : h('p', {}, 'Ingen standardtekster endnu.'),
    h('form', { id: 'phrase-add', onsubmit: (ev) => {
      ev.preventDefault();
      if (!name.value.trim() || !text.value.trim()) { problem.textContent = 'Skriv både et navn og en tekst.'; return; }
      save([...list, { name: name.value, text: text.value }]);
    } },
    h('label', { for: 'phrase-name' }, 'Navn'), name,
    h('label', { for: 'phrase-text' }, 'Tekst'), text, problem,
    h('button', { type: 'submit' }, 'Tilføj standardtekst')));
}

/** "Log ud" in the header: ends this browser's device. A citizen is told what is lost. */
export function logoutButton(app) {
  const c = app.client;
  return h('button', { type: 'button', id: 'logout', class: 'secondary', onclick: async () => {
    const q = c.isCitizen
      ? 'Log ud af denne browser?\n\nBeskederne og de vedhæftede filer i denne browser slettes. Beskeder, der allerede er hentet her, kan ikke hentes igen – de findes kun på dine andre enheder og hos kommunen. Du kan logge ind igen med MitID.'
      : 'Log ud af denne browser?\n\nEnheden fjernes, og samtalerne slettes fra browseren. Når du logger ind igen, henter din nye enhed enhedens samtaler fra dine kollegers enheder.';
    if (!window.confirm(q)) return;
    try { await c.revoke(c.device.dev); } catch {
      // Without a connection the keys are deleted here all the same; the relay removes the device
      // when its keys are never used again (or from "Mine enheder" on another device).
      await c.forget();
    }
    app.go({ view: 'home' });
  } }, 'Log ud');
}
