// SPDX-License-Identifier: MPL-2.0
// Web Push for the installed web app (spec/push.md §3, spec/protocol.md §17): ask for permission
// at a moment the person understands (after their first message, or from a settings button),
// subscribe the service worker's push manager with the relay's VAPID key, and register the
// subscription with the relay. The service worker (the web app's, not this module's) shows the
// generic notification when a push arrives; pushes carry no content.
import { T, PUSH_KIND } from '../protocol/schema.js';

const ASKED_KEY = 'wakks.push.asked';
// One check per page load is enough to keep the relay's record current; not one per message.
let checkedThisPage = false;
// navigator.serviceWorker.ready never settles when no worker is registered (a page served
// without one, a browser that refused it): give up instead of waiting forever.
const READY_TIMEOUT_MS = 5000;

/** True when this browser can receive Web Push for this page. */
export function pushSupported(env = globalThis) {
  return !!(env.navigator?.serviceWorker && env.PushManager && env.Notification);
}

function sameKey(a, b) {
  if (!a || !b) return false;
  const x = new Uint8Array(a), y = new Uint8Array(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The push_register body of a PushSubscription (kind 1: endpoint, p256dh, auth). */
export function subscriptionBody(sub) {
  return {
    kind: PUSH_KIND.web,
    ep: sub.endpoint,
    p256dh: new Uint8Array(sub.getKey('p256dh')),
    auth: new Uint8Array(sub.getKey('auth')),
  };
}

async function ready(env) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), READY_TIMEOUT_MS); });
  try {
    return await Promise.race([env.navigator.serviceWorker.ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Subscribes this browser and tells the relay. `ask`: request permission when the person has not
 * decided yet (call it from a click, or after their first message). Resolves with one of
 * 'subscribed', 'unsupported', 'denied', 'default' (not asked, or the person closed the prompt),
 * 'no-service-worker'; rejects when the relay refuses (e.g. Web Push off: code 'unavailable').
 */
export async function subscribePush(client, { ask = true, env = globalThis } = {}) {
  if (!pushSupported(env)) return 'unsupported';
  let permission = env.Notification.permission;
  if (permission === 'default' && ask) permission = await env.Notification.requestPermission();
  if (permission !== 'granted') return permission === 'denied' ? 'denied' : 'default';
  const reg = await ready(env);
  if (!reg?.pushManager) return 'no-service-worker';
  const key = (await client.request(T.push_key_get, {})).body.vapid;
  let sub = await reg.pushManager.getSubscription();
  // A subscription made with another key (the relay's data was restored without its VAPID key)
  // would be refused by the push service: replace it.
  if (sub && !sameKey(sub.options?.applicationServerKey, key)) {
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await client.request(T.push_register, subscriptionBody(sub));
  return 'subscribed';
}

/** Stops pushes to this browser: the push manager's subscription and the relay's record. */
export async function unsubscribePush(client, { env = globalThis } = {}) {
  if (pushSupported(env)) {
    const reg = await ready(env);
    const sub = await reg?.pushManager?.getSubscription();
    if (sub) await sub.unsubscribe();
  }
  await client.request(T.push_remove, {});
}

/**
 * After a message was sent: the first time on this browser, ask whether to be notified of the
 * answer (the moment the question makes sense) when `ask` (a citizen: caseworkers are offered
 * notifications from a button in their inbox instead); afterwards, and without `ask`, keep the
 * relay's record current without asking (a subscription the browser renewed, a relay that lost
 * it). Never throws.
 */
export async function offerPushAfterSend(client, { ask = true, env = globalThis } = {}) {
  if (checkedThisPage) return 'checked';
  checkedThisPage = true;
  try {
    const storage = env.localStorage;
    const asked = storage?.getItem(ASKED_KEY) === '1';
    if (ask && !asked) storage?.setItem(ASKED_KEY, '1');
    return await subscribePush(client, { ask: ask && !asked, env });
  } catch {
    return 'failed';
  }
}
