// SPDX-License-Identifier: MPL-2.0
// The web app's service worker: keeps the app shell of one version in its own cache so the app
// starts without a connection (its keys, messages and outbox are in IndexedDB), waits for the
// user to reload when a new version arrives, and shows the content-free notification of a push.
// build.mjs fills in VERSION (a hash of every shell file) and SHELL (their paths).
'use strict';

const VERSION = '__WAKKS_VERSION__';
const SHELL = ['__WAKKS_SHELL__'];
const CACHE = `wakks-shell-${VERSION}`;
// Answers the relay gives that the app may show from the last copy while offline.
const LAST_KNOWN = ['/branding'];
const NOTICE = 'Du har en ny besked i OS2wakks';

self.addEventListener('install', (event) => {
  // No skipWaiting here: a page running the old version keeps its files until the user chooses
  // to reload (the page posts 'activate'), except on the first install, when nothing runs yet.
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.map((p) => new Request(p, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('wakks-') && key !== CACHE && key !== 'wakks-last') await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'activate') self.skipWaiting();
  if (event.data?.type === 'version') event.source?.postMessage({ type: 'version', version: VERSION });
});

async function lastKnown(request) {
  const cache = await caches.open('wakks-last');
  try {
    const fresh = await fetch(request);
    if (fresh.ok) await cache.put(request, fresh.clone());
    return fresh;
  } catch (e) {
    const old = await cache.match(request);
    if (old) return old;
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // A navigation inside the app (start, reload, the installed app's start_url) gets the cached
  // shell: the app then shows itself offline instead of the browser's error page.
  if (req.mode === 'navigate' && (url.pathname === '/' || url.pathname === '/index.html')) {
    event.respondWith(caches.open(CACHE).then((c) => c.match('/index.html')).then((r) => r ?? fetch(req)));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.open(CACHE).then((c) => c.match(url.pathname, { ignoreSearch: true })).then((r) => r ?? fetch(req)));
    return;
  }
  if (LAST_KNOWN.includes(url.pathname) || url.pathname.startsWith('/branding/')) event.respondWith(lastKnown(req));
  // Everything else (the identity providers, consent texts, attachments) goes to the network.
});

// A push says only that something waits (the relay sends no sender, unit or text), so the
// notification is the same every time; one replaces the other.
self.addEventListener('push', (event) => {
  event.waitUntil(self.registration.showNotification('OS2wakks', {
    body: NOTICE,
    tag: 'wakks-new-message',
    renotify: true,
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    lang: 'da',
    data: { thread: threadOf(event) },
  }));
});

// A push may name the thread by its conversation id (16 bytes in hex, opaque: never content);
// anything else opens the inbox.
function threadOf(event) {
  try {
    const t = event.data?.json()?.thread;
    return typeof t === 'string' && /^[0-9a-f]{32}$/.test(t) ? t : null;
  } catch { return null; }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const thread = event.notification.data?.thread ?? null;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const win = open.find((c) => new URL(c.url).origin === self.location.origin);
    if (win) {
      win.postMessage({ type: 'open', thread });
      return win.focus();
    }
    return self.clients.openWindow(thread ? `/#samtale=${thread}` : '/');
  })());
});
