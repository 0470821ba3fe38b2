// SPDX-License-Identifier: MPL-2.0
// Ratchet sessions per peer device, in memory while the page runs and sealed in IndexedDB.
import { fromHex, toHex } from '../crypto/bytes.js';
import { seal, unseal } from '../crypto/seal.js';
import * as db from '../store/db.js';

export const sessionKey = (acc, dev) => `${toHex(acc)}:${toHex(dev)}`;

export class Sessions {
  constructor(storageKey) { this.storageKey = storageKey; this.map = new Map(); }

  async load() {
    for (const r of await db.all('sessions')) {
      try { this.map.set(r.key, { acc: r.acc, dev: r.dev, session: unseal(this.storageKey, r.sealed) }); } catch { /* unreadable: a new session will replace it */ }
    }
  }

  get(acc, dev) { return this.map.get(sessionKey(acc, dev))?.session ?? null; }
  has(acc, dev) { return this.map.has(sessionKey(acc, dev)); }
  set(acc, dev, session) { this.map.set(sessionKey(acc, dev), { acc, dev, session }); }
  drop(acc, dev) { this.map.delete(sessionKey(acc, dev)); }
  dropDevice(devHex) {
    for (const [k, v] of this.map) if (toHex(v.dev) === devHex) this.map.delete(k);
  }
  /** Identity key of the peer device, as bound into its session. */
  peerIk(acc, dev) { return this.get(acc, dev)?.ikRemote ?? null; }
  peers() { return [...this.map.values()]; }

  /** Adds the sealed form of the given sessions to a write transaction. */
  persist(t, pairs) {
    for (const [acc, dev] of pairs) {
      const k = sessionKey(acc, dev);
      const s = this.map.get(k);
      if (s) t.put('sessions', k, { key: k, acc, dev, sealed: seal(this.storageKey, s.session) });
      else t.del('sessions', k);
    }
  }
}

export const devFromKey = (k) => fromHex(k.split(':')[1]);
