// SPDX-License-Identifier: MPL-2.0
// IndexedDB: the device's keys, sealed sessions, messages, conversations and the outbox, the
// ciphertext of attachments still being uploaded (`uploads`) and the files of attachments sent and
// received (`files`). Nothing here ever leaves the browser except the uploads' ciphertext.

const NAME = 'wakks';
const VERSION = 2;
export const STORES = ['kv', 'opks', 'sessions', 'messages', 'conversations', 'outbox', 'seen', 'uploads', 'files'];

let dbp = null;

export function open() {
  if (dbp) return dbp;
  dbp = new Promise((resolve, reject) => {
    const r = indexedDB.open(NAME, VERSION);
    r.onupgradeneeded = () => {
      for (const s of STORES) if (!r.result.objectStoreNames.contains(s)) r.result.createObjectStore(s);
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return dbp;
}

const done = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

export async function get(store, key) {
  const db = await open();
  return done(db.transaction(store).objectStore(store).get(key));
}

export async function all(store) {
  const db = await open();
  return done(db.transaction(store).objectStore(store).getAll());
}

/** Runs `fn(tx)` in one read-write transaction over `stores`; resolves when it commits. */
export async function write(stores, fn) {
  const db = await open();
  const tx = db.transaction(stores, 'readwrite');
  const put = (s, k, v) => tx.objectStore(s).put(v, k);
  const del = (s, k) => tx.objectStore(s).delete(k);
  fn({ put, del, tx });
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const put = (store, key, value) => write([store], (t) => t.put(store, key, value));
export const del = (store, key) => write([store], (t) => t.del(store, key));

export async function wipe() {
  await write(STORES, (t) => { for (const s of STORES) t.tx.objectStore(s).clear(); });
}

/** Deletes the entries of `store` whose `time` is before `cutoff` (ms). */
export async function pruneBefore(store, cutoff) {
  await write([store], (t) => {
    const req = t.tx.objectStore(store).openCursor();
    req.onsuccess = () => {
      const cur = req.result;
      if (!cur) return;
      if ((cur.value?.time ?? 0) < cutoff) cur.delete();
      cur.continue();
    };
  });
}
