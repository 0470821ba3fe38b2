// SPDX-License-Identifier: MPL-2.0
// The service worker from the page's side: registers it, tells the page when a new version waits
// (installed beside the running one, public/sw.js), activates that version when the user chooses
// to reload, and passes on the worker's requests to open a thread (a notification was clicked).

/**
 * Starts the service worker. `onWaiting()` runs when a new version is ready; `onOpen(thread)`
 * when a notification asks for a thread (a conversation key, or null for the inbox).
 * Returns { activate() } which switches to the waiting version and reloads the page.
 */
export function startServiceWorker({ onWaiting, onOpen }) {
  const sw = navigator.serviceWorker;
  const handle = { registration: null, activate() {} };
  if (!sw) return handle;
  sw.addEventListener('message', (ev) => { if (ev.data?.type === 'open') onOpen(ev.data.thread ?? null); });
  // Only a switch the user asked for reloads: the first install also takes control (clients.claim),
  // and that must not reload a page in use.
  let asked = false;
  sw.addEventListener('controllerchange', () => { if (asked) location.reload(); });
  sw.register('/sw.js', { scope: '/' }).then((reg) => {
    handle.registration = reg;
    const watch = (worker) => worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed' && sw.controller) onWaiting();
    });
    if (reg.waiting && sw.controller) onWaiting();
    watch(reg.installing);
    reg.addEventListener('updatefound', () => watch(reg.installing));
    handle.activate = () => {
      asked = true;
      if (reg.waiting) reg.waiting.postMessage({ type: 'activate' });
      else location.reload();
    };
    // A page left open for days still learns of new versions.
    setInterval(() => reg.update().catch(() => {}), 60 * 60 * 1000);
  }).catch(() => {});
  return handle;
}

/** The thread a start URL names (`/#samtale=KEY`, from a notification), once; null otherwise. */
export function threadFromUrl() {
  const m = /^#samtale=([0-9a-f]{32})$/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return m[1];
}
