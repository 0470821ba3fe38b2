// SPDX-License-Identifier: MPL-2.0
// Getting the person's attention: the unread count in the document title and on the tab's icon,
// and a desktop notification for a new message while no one looks at the page. Permission is
// asked for only from a button the person presses (the inbox's offer or the settings), never
// when the page loads. A notification names the sender, never the message.
import { unreadLabel } from '../app/inbox.js';

const BASE_TITLE = document.title;
let known = null; // ids of incoming messages already seen by this page
let lastIcon = null;

function icon(n) {
  const size = 32;
  const cv = document.createElement('canvas');
  cv.width = size; cv.height = size;
  const g = cv.getContext('2d');
  if (!g) return null;
  g.fillStyle = '#0b5394';
  g.fillRect(2, 2, 28, 28);
  g.fillStyle = '#ffffff';
  g.font = 'bold 20px sans-serif';
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText('W', 16, 17);
  if (n) {
    const label = unreadLabel(n);
    g.fillStyle = '#a4161a';
    g.beginPath();
    g.arc(22, 10, 10, 0, 2 * Math.PI);
    g.fill();
    g.fillStyle = '#ffffff';
    g.font = `bold ${label.length > 2 ? 9 : 13}px sans-serif`;
    g.fillText(label, 22, 11);
  }
  return cv.toDataURL('image/png');
}

// The tab's icon, and for the installed app the badge on its icon.
function setIcon(n) {
  if (lastIcon === n) return;
  lastIcon = n;
  if (navigator.setAppBadge) (n ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
  const url = icon(n);
  const link = document.querySelector('link[rel=icon]');
  if (url && link) link.href = url;
}

export const notificationsPossible = () => typeof Notification !== 'undefined';
export const notificationPermission = () => (notificationsPossible() ? Notification.permission : 'denied');

/** Asks for permission; call only from a click. Resolves with the answer. */
export async function askNotifications() {
  if (!notificationsPossible()) return 'denied';
  try { return await Notification.requestPermission(); } catch { return Notification.permission; }
}

/**
 * Brings title, icon and notifications up to date with the client's messages.
 * @param {object} app the application; `who(msg)` names a sender for a notification
 */
export function attend(app, who) {
  const c = app.client;
  const m = c.messaging;
  if (!c.device || !m) {
    document.title = BASE_TITLE;
    setIcon(0);
    known = null;
    return;
  }
  const n = m.unreadTotal();
  document.title = n ? `(${unreadLabel(n)}) ${BASE_TITLE}` : BASE_TITLE;
  setIcon(n);
  const incoming = [...m.messages.values()].filter((x) => !x.mine);
  if (known === null) { known = new Set(incoming.map((x) => x.id)); return; }
  const fresh = incoming.filter((x) => !known.has(x.id));
  for (const x of fresh) known.add(x.id);
  if (!fresh.length || document.visibilityState === 'visible' || notificationPermission() !== 'granted') return;
  const last = fresh.at(-1);
  try {
    // The tag makes the tabs of one browser show one notification per message, not one each.
    const note = new Notification('Ny besked i OS2wakks', { body: `Fra ${who(last)}`, tag: `wakks-${last.id}`, lang: 'da' });
    note.onclick = () => { window.focus(); app.go({ view: 'thread', conv: last.conv }); note.close(); };
  } catch { /* the platform refused (some only allow it from a service worker) */ }
}
