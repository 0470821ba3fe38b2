// SPDX-License-Identifier: MPL-2.0
// The installable app around the pages: the service worker and its "new version" notice, opening
// the thread a notification names, and the municipality's name, logo and colour in the header.
// (The unread count in the title and on the icons is views/attention.js.)
import { appBrand, branding } from '../app/branding.js';
import { startServiceWorker, threadFromUrl } from '../app/pwa.js';
import { h } from './dom.js';

function updateNotice(sw) {
  const box = document.getElementById('app-notices');
  if (!box || box.querySelector('.update')) return;
  box.append(h('div', { class: 'update', role: 'status' },
    h('p', {}, 'Der er kommet en ny version af OS2wakks. Beskeder, der venter på at blive sendt, bliver ikke væk.'),
    h('button', { type: 'button', id: 'update-reload', onclick: () => sw.activate() }, 'Ny version – genindlæs')));
}

function openThread(app, thread) {
  const conv = thread ? app.client.messaging?.conversations.get(thread) : null;
  if (conv && app.client.isCitizen) app.go({ view: 'thread', conv: conv.id, ten: conv.ten, unit: conv.unit });
  else if (conv) app.go({ view: 'thread', conv: conv.id });
  else app.go({ view: 'home' });
}

function wear(brand) {
  const root = document.documentElement;
  if (brand.colour) {
    root.style.setProperty('--accent', brand.colour);
    document.querySelector('meta[name=theme-color]')?.setAttribute('content', brand.colour);
  }
  const header = document.querySelector('body > header');
  if (!header || header.querySelector('.brand')) return;
  header.querySelector('h1')?.after(h('p', { class: 'brand' },
    brand.logo ? h('img', { class: 'brand-logo', src: brand.logo, alt: '' }) : null,
    h('span', { class: 'brand-name' }, brand.display_name)));
}

/** Starts the app's outer parts; `app` is the application shell of main.js. */
export function startWebapp(app) {
  const sw = startServiceWorker({ onWaiting: () => updateNotice(sw), onOpen: (t) => openThread(app, t) });
  app.serviceWorker = sw;
  // A notification opened the app at a thread: go there once the device's state is loaded.
  let pending = threadFromUrl();
  const render = app.render;
  app.render = function renderAndOpen(...args) {
    if (pending && app.client.messaging) {
      const t = pending;
      pending = null;
      openThread(app, t);
      return;
    }
    render.apply(this, args);
  };
  branding().then((map) => {
    app.branding = map;
    const brand = appBrand(map);
    if (brand) wear(brand);
    if (map.size && app.client.device) app.render();
  });
}
