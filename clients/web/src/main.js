// SPDX-License-Identifier: MPL-2.0
// The application shell: navigation per role, the connection status, and re-rendering the
// current page when the client's state changes.
import { Client } from './app/client.js';
import { h } from './views/dom.js';
import { loginView } from './views/login.js';
import { citizenHome, citizenThread, consentView } from './views/citizen.js';
import { caseworkerThread, inboxView, lookupView } from './views/caseworker.js';
import { devicesView } from './views/devices.js';
import { startWebapp } from './views/webapp.js';
// The working day (issue 19): the split inbox, settings, log-out, title, icon and notifications.
import { logoutButton, settingsView } from './views/workday.js';
import { attend } from './views/attention.js';

const STATUS = {
  online: 'Forbundet',
  connecting: 'Forbinder …',
  offline: 'Ingen forbindelse – beskeder sendes, når forbindelsen er tilbage',
};

const app = {
  client: new Client(),
  route: { view: 'home' },
  cache: {},
  flash: null,
  go(route, flash = null) {
    const moved = route.view !== this.route.view || route.conv !== this.route.conv;
    this.route = route;
    this.flash = flash;
    this.render(moved);
  },
};

function nav() {
  const c = app.client;
  const unread = c.messaging?.unreadTotal() ?? 0;
  const items = c.isCitizen
    ? [['home', 'Samtaler'], ['consent', 'Samtykke'], ['devices', 'Mine enheder'], ['settings', 'Indstillinger']]
    : [['home', 'Indbakke'], ['lookup', 'Find borger'], ['devices', 'Mine enheder'], ['settings', 'Indstillinger']];
  return h('nav', { 'aria-label': 'Hovedmenu' }, h('ul', {}, items.map(([view, label]) => h('li', {},
    h('button', { type: 'button', class: 'nav', 'data-view': view, 'aria-current': app.route.view === view ? 'page' : null, onclick: () => app.go({ view }) },
      label, view === 'home' && unread ? h('span', { class: 'badge' }, `${unread} ulæste`) : null))),
  h('li', {}, logoutButton(app))));
}

function page() {
  const c = app.client;
  if (!c.device) return loginView(app);
  const v = app.route.view;
  if (v === 'devices') return devicesView(app);
  if (v === 'settings') return settingsView(app);
  if (c.isCitizen) {
    if (v === 'thread') return citizenThread(app, app.route);
    if (v === 'consent') return consentView(app);
    return citizenHome(app);
  }
  if (v === 'thread') return caseworkerThread(app, app.route);
  if (v === 'lookup') return lookupView(app);
  return inboxView(app);
}

// Re-rendering keeps what the user is typing and where the focus is.
// A file picker keeps the files chosen, not its value (which cannot be set).
function keep() {
  const values = {}, files = {};
  for (const el of document.querySelectorAll('main input[id], main textarea[id]')) {
    if (el.type === 'file') files[el.id] = el.files; else values[el.id] = el.value;
  }
  // Open disclosure panels (safety numbers, handover) stay open; their toggle fills them again.
  const open = [...document.querySelectorAll('main details[open]')].map((d) => d.className);
  return { values, files, focus: document.activeElement?.id, open };
}
function restore(s) {
  for (const [id, v] of Object.entries(s.values)) { const el = document.getElementById(id); if (el) el.value = v; }
  for (const [id, f] of Object.entries(s.files ?? {})) { const el = document.getElementById(id); if (el && f?.length) el.files = f; }
  for (const c of s.open ?? []) { const d = document.querySelector(`main details[class="${c}"]`); if (d) d.open = true; }
  // Without scrolling: the re-rendered page keeps its place (toNewest), and focusing a thread's
  // title again must not take a reader at its newest message back to the top.
  if (s.focus) document.getElementById(s.focus)?.focus({ preventScroll: true });
}

app.render = function render(moved = false) {
  const c = app.client;
  const saved = moved ? { values: {}, focus: null } : keep();
  const who = c.device ? `${c.device.name || (c.isCitizen ? 'Borger' : 'Medarbejder')}${c.isCitizen ? '' : c.device.unitName ? `, ${c.device.unitName}` : ''}` : '';
  document.getElementById('who').textContent = who;
  document.getElementById('status').textContent = c.device ? STATUS[c.status] : '';
  document.getElementById('status').dataset.state = c.status;
  // A re-render (a message, a receipt) keeps the focus on the menu button that had it.
  const navFocus = document.getElementById('nav').contains(document.activeElement) ? document.activeElement.dataset.view ?? document.activeElement.id : null;
  document.getElementById('nav').replaceChildren(c.device ? nav() : '');
  const notice = c.notice === 'revoked' && c.device ? h('div', { role: 'alert', class: 'error' },
    h('p', {}, 'Denne enhed er fjernet fra kontoen og kan ikke længere modtage beskeder.'),
    h('button', { type: 'button', onclick: async () => { await c.forget(); c.notice = null; c.stopped = false; app.go({ view: 'home' }); } }, 'Log ud af denne browser')) : null;
  const replaced = c.notice === 'replaced' && c.device ? h('div', { role: 'alert', class: 'error' },
    h('p', {}, 'OS2wakks er åbnet i et andet vindue eller faneblad. Kun ét ad gangen kan være forbundet.'),
    h('button', { type: 'button', onclick: () => { c.resume(); app.render(); } }, 'Brug dette vindue')) : null;
  const scroll = scrolled();
  const main = document.getElementById('main');
  main.replaceChildren(...[notice, replaced, page()].filter(Boolean));
  main.classList.toggle('wide', !!main.querySelector('.workday'));
  if (moved) (document.querySelector('main .pane-read h2') ?? document.querySelector('main h2'))?.focus({ preventScroll: true });
  else restore(saved);
  if (navFocus && !moved) (document.querySelector(`#nav [data-view="${navFocus}"]`) ?? document.getElementById(navFocus))?.focus({ preventScroll: true });
  toNewest(moved, scroll);
  attend(app, (m) => app.client.messaging?.conversations.get(m.conv)?.label ?? (app.client.isCitizen ? 'kommunen' : 'en borger'));
};

// A thread opens at its newest message; a re-render keeps the place of someone reading older
// messages, and follows new ones for someone already at the end.
function scrolled() {
  const ol = document.getElementById('messages');
  return ol ? { at: ol.scrollTop, end: ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 8 } : null;
}
function toNewest(moved, before) {
  const ol = document.getElementById('messages');
  if (!ol) return;
  if (moved || !before || before.end) {
    ol.scrollTop = ol.scrollHeight;
    if (moved && ol.scrollHeight <= ol.clientHeight + 8) ol.lastElementChild?.scrollIntoView({ block: 'nearest' });
  } else ol.scrollTop = before.at;
}

// Which changes each page shows; other changes leave it alone (an open consent text, a look-up
// result or a half-typed CPR number stay where they are).
const SHOWS = {
  home: ['messages', 'online', 'state'], thread: ['messages', 'online', 'state', 'consent'],
  consent: ['consent', 'online', 'state'], devices: ['devices', 'online', 'state'], lookup: ['state'], settings: ['state'],
};

// New incoming messages are announced to screen readers wherever the user is.
let heard = null;
function announce() {
  const m = app.client.messaging;
  if (!m) return;
  const incoming = [...m.messages.values()].filter((x) => !x.mine).length;
  if (heard !== null && incoming > heard) {
    document.getElementById('announce').textContent = incoming - heard === 1 ? 'Ny besked modtaget.' : `${incoming - heard} nye beskeder modtaget.`;
  }
  heard = incoming;
}

app.client.addEventListener('change', (ev) => {
  if (ev.detail === 'messages') announce();
  if (ev.detail === 'status') {
    document.getElementById('status').textContent = app.client.device ? STATUS[app.client.status] : '';
    document.getElementById('status').dataset.state = app.client.status;
    return;
  }
  if (!app.client.device || (SHOWS[app.route.view] ?? ['state']).includes(ev.detail)) { app.render(); return; }
  if (ev.detail === 'messages') attend(app, () => 'en afsender'); // title and icon follow on every page
  if (!document.getElementById('nav').contains(document.activeElement)) document.getElementById('nav').replaceChildren(nav());
});

// Coming back to the tab: the open thread is read now (and the other side may learn it).
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible' && app.client.device && app.route.view === 'thread') app.render(); });

// Back online: reconnect now rather than after the back-off delay.
window.addEventListener('online', () => { if (app.client.device && !app.client.stopped && app.client.status === 'offline') app.client.resume(); });

window.wakks = app; // for the browser tests and for debugging in the console
startWebapp(app); // service worker, new-version notice, notifications' threads, branding
app.client.init().then(() => app.render(), () => app.render());
app.render();
