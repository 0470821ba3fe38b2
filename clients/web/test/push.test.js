// SPDX-License-Identifier: MPL-2.0
// The web client's push subscription (src/app/push.js) against a stand-in browser (push manager,
// Notification, service worker registration) and a client whose requests go through the real
// protocol encoder, so every frame it sends is one the relay's decoder accepts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../src/protocol/codec.js';
import { T } from '../src/protocol/schema.js';
import { offerPushAfterSend, subscribePush, unsubscribePush } from '../src/app/push.js';

const VAPID = new Uint8Array(65).fill(7); VAPID[0] = 4;
const P256DH = new Uint8Array(65).fill(9); P256DH[0] = 4;
const AUTH = new Uint8Array(16).fill(5);

function client(vapid = VAPID) {
  const sent = [];
  return {
    sent,
    async request(type, body) {
      const frame = decode(encode(type, 1, body)); // what the relay would decode
      sent.push(frame);
      if (type === T.push_key_get) return { type: T.push_key, body: { vapid } };
      return { type: T.ok, body: {} };
    },
  };
}

function browser({ permission = 'default', answer = 'granted', existingKey = null } = {}) {
  const state = { asked: 0, subscribed: null, unsubscribed: 0, store: new Map() };
  const makeSub = (key) => ({
    endpoint: 'https://push.example.net/wpush/abc',
    options: { applicationServerKey: key.buffer },
    getKey: (n) => (n === 'p256dh' ? P256DH : AUTH).buffer,
    unsubscribe: async () => { state.unsubscribed++; state.current = null; return true; },
  });
  state.current = existingKey ? makeSub(existingKey) : null;
  const env = {
    PushManager: function PushManager() {},
    Notification: {
      permission,
      requestPermission: async () => { state.asked++; env.Notification.permission = answer; return answer; },
    },
    navigator: { serviceWorker: { ready: Promise.resolve({ pushManager: {
      getSubscription: async () => state.current,
      subscribe: async (opts) => {
        assert.equal(opts.userVisibleOnly, true);
        state.subscribed = opts.applicationServerKey;
        state.current = makeSub(new Uint8Array(opts.applicationServerKey));
        return state.current;
      },
    } }) } },
    localStorage: { getItem: (k) => state.store.get(k) ?? null, setItem: (k, v) => state.store.set(k, v) },
  };
  return { env, state };
}

test('subscribes with the relay VAPID key and registers endpoint, p256dh and auth', async () => {
  const c = client();
  const { env, state } = browser();
  assert.equal(await subscribePush(c, { env }), 'subscribed');
  assert.equal(state.asked, 1);
  assert.deepEqual(new Uint8Array(state.subscribed), VAPID);
  assert.deepEqual(c.sent.map((f) => f.name), ['push_key_get', 'push_register']);
  const reg = c.sent[1].body;
  assert.equal(reg.kind, 1);
  assert.equal(reg.ep, 'https://push.example.net/wpush/abc');
  assert.deepEqual(reg.p256dh, P256DH);
  assert.deepEqual(reg.auth, AUTH);
});

test('a denied or undecided permission sends nothing', async () => {
  for (const [permission, answer, want] of [['denied', 'denied', 'denied'], ['default', 'default', 'default']]) {
    const c = client();
    const { env } = browser({ permission, answer });
    assert.equal(await subscribePush(c, { env }), want);
    assert.equal(c.sent.length, 0);
  }
  const c = client();
  assert.equal(await subscribePush(c, { env: {} }), 'unsupported');
});

test('a subscription made with another key is replaced', async () => {
  const old = new Uint8Array(65).fill(1); old[0] = 4;
  const c = client();
  const { env, state } = browser({ permission: 'granted', existingKey: old });
  assert.equal(await subscribePush(c, { env }), 'subscribed');
  assert.equal(state.unsubscribed, 1);
  assert.deepEqual(new Uint8Array(state.subscribed), VAPID);
});

test('after the first message it asks once, and unsubscribing tells the relay', async () => {
  const c = client();
  const { env, state } = browser();
  assert.equal(await offerPushAfterSend(c, { env }), 'subscribed');
  assert.equal(state.store.get('wakks.push.asked'), '1');
  assert.equal(await offerPushAfterSend(c, { env }), 'checked'); // once per page
  assert.equal(state.asked, 1);
  await unsubscribePush(c, { env });
  assert.equal(c.sent.at(-1).name, 'push_remove');
  assert.equal(state.current, null);
});
