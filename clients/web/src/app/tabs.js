// SPDX-License-Identifier: MPL-2.0
// Several tabs of one browser share ONE relay connection. The tab holding the Web Lock connects
// (the leader); every other tab (a follower) sends its requests and actions to the leader over a
// BroadcastChannel and re-reads IndexedDB when the leader says something changed. Only the leader
// touches ratchet sessions and writes messages, so two tabs never advance the same session. When
// the leader's tab closes, the browser grants the lock to a waiting tab, which then connects.
// Without Web Locks or BroadcastChannel every tab is its own leader (the relay then keeps the
// newest connection of the device and tells the older one, close code 4001).

const LOCK = 'wakks-connection';
const CHANNEL = 'wakks-tabs';
// A call the leader does not answer within this time fails as if the connection were gone (the
// leader's tab may have closed while the call was under way).
const CALL_TIMEOUT_MS = 30000;

const tabId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

export class Tabs {
  /**
   * @param {object} h handlers: leader() when this tab becomes the leader; serve(op, args) runs
   *   a follower's call in the leader and resolves with a structured-cloneable value; heard(msg)
   *   handles the leader's announcements and the other tabs' log-in and log-out in any tab.
   * @param {object} [env] where the lock manager and the channel come from (the browser's, or a
   *   test's): { locks, BroadcastChannel }
   */
  constructor(h, env = { locks: globalThis.navigator?.locks, BroadcastChannel: globalThis.BroadcastChannel }) {
    this.h = h;
    this.id = tabId();
    this.leader = false;
    this.locks = env.locks;
    this.shared = !!env.locks && typeof env.BroadcastChannel === 'function';
    this.calls = new Map();
    this.seq = 0;
    this.ch = null;
    if (this.shared) {
      // The channel is open for the page's life: a tab at the login page still hears a log-in.
      this.ch = new env.BroadcastChannel(CHANNEL);
      this.ch.onmessage = (ev) => this.onMessage(ev.data);
    }
  }

  /** Asks for the lock; resolves at once (the lock may come later). */
  start() {
    if (this.waiting || this.leader) return;
    if (!this.shared) { this.leader = true; this.h.leader(); return; }
    this.abort = new AbortController();
    this.waiting = true;
    this.locks.request(LOCK, { signal: this.abort.signal }, () => new Promise((release) => {
      this.waiting = false;
      this.release = release;
      this.leader = true;
      this.post({ kind: 'leader' });
      this.h.leader();
    })).catch(() => { this.waiting = false; /* aborted: this tab logged out */ });
    this.post({ kind: 'hello' });
  }

  /** Gives up the lock (log-out): a waiting tab becomes the leader. */
  stop() {
    this.abort?.abort();
    this.waiting = false;
    this.leader = false;
    this.release?.();
    this.release = null;
    for (const c of this.calls.values()) { clearTimeout(c.timer); c.reject(Object.assign(new Error('closed'), { code: 'closed' })); }
    this.calls.clear();
  }

  /** Closes the channel (the page goes away; a test ends). */
  close() { this.stop(); this.ch?.close(); this.ch = null; }

  post(msg) { this.ch?.postMessage({ ...msg, from: this.id }); }

  /** A follower's call into the leader. Rejects with { code, det } as the leader's call did. */
  call(op, args) {
    if (!this.ch) return Promise.reject(Object.assign(new Error('closed'), { code: 'closed' }));
    const id = `${this.id}:${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.calls.delete(id); reject(Object.assign(new Error('closed'), { code: 'closed' })); }, CALL_TIMEOUT_MS);
      this.calls.set(id, { resolve, reject, timer });
      this.post({ kind: 'call', id, op, args });
    });
  }

  /** The leader tells the followers what changed (and its connection state). */
  announce(msg) { if (this.leader) this.post({ kind: 'changed', ...msg }); }

  async onMessage(m) {
    if (!m || m.from === this.id) return;
    if (m.kind === 'call') {
      if (!this.leader) return;
      try {
        const value = await this.h.serve(m.op, m.args);
        this.post({ kind: 'reply', id: m.id, ok: true, value });
      } catch (e) {
        this.post({ kind: 'reply', id: m.id, ok: false, error: { code: e?.code ?? 'internal', det: e?.det ?? {}, message: String(e?.message ?? e) } });
      }
      return;
    }
    if (m.kind === 'reply') {
      const c = this.calls.get(m.id);
      if (!c) return;
      this.calls.delete(m.id);
      clearTimeout(c.timer);
      if (m.ok) c.resolve(m.value); else c.reject(Object.assign(new Error(m.error.message), m.error));
      return;
    }
    this.h.heard(m);
  }
}
