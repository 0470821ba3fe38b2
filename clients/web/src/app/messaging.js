// SPDX-License-Identifier: MPL-2.0
// Messages: fan-out to the required device set with device_mismatch retries and an outbox kept
// until `stored`; receiving with de-duplication, decryption and ack after persisting. An
// attachment is its own message: its blob is uploaded before the send that references it, and
// downloaded and checked before the envelope is acknowledged.
import { random } from '../crypto/random.js';
import { newCmid } from '../protocol/cmid.js';
import { equal, fromHex, toHex } from '../crypto/bytes.js';
import { ATTACHMENT, decodeContent, encodeContent, HISTORY, NOTICE, PRESENTATION, RECEIPT, TEXT, threadId } from '../crypto/content.js';
import { decodeDescriptor, encodeDescriptor, encryptAttachment } from '../crypto/attachment.js';
import { blobId, fetchAttachment, uploadBlob } from './blobs.js';
import { parse, PREKEY } from '../crypto/envelope.js';
import { decrypt, prekeyMatches } from '../crypto/ratchet.js';
import { fanout } from '../crypto/fanout.js';
import { initiate, respond } from '../crypto/x3dh.js';
import { T } from '../protocol/schema.js';
import * as db from '../store/db.js';
import { conversationId } from './conversation.js';
import { offerPushAfterSend } from './push.js';
import { Threads } from './threads.js';
import { encodeNotice, NOTICE_TYPES } from './records.js';

// device_mismatch answers in a row before a message waits for the next connection: the set only
// changes when someone registers or is revoked.
const MAX_ATTEMPTS = 4;
const MISMATCH_WAIT_MS = 50000;
// Refusals that pass: the message stays queued and is tried again after `det.retry` or this.
const TRANSIENT = new Set(['rate_limited', 'unavailable', 'quota_exceeded', 'internal']);
const RETRY_MS = 5000;
// Largest file offered for upload: the relay's default blob_max_bytes (25 MiB of ciphertext).
export const MAX_FILE_BYTES = 25 * 1024 * 1024 - 64 * 1024;
// Tries of one blob download refused with a transient error before the envelope waits for the
// next connection (it is not acknowledged, so the relay delivers it again).
const DOWNLOAD_TRIES = 3;
// How long a processed envelope is remembered for de-duplication: beyond the relay's default
// envelope TTL of 30 days.
const SEEN_KEEP_MS = 40 * 24 * 3600 * 1000;
const utf8 = new TextEncoder();
const text = new TextDecoder();

export class Messaging {
  constructor(client) {
    this.c = client;
    this.messages = new Map(); // id hex -> message
    this.conversations = new Map(); // id hex -> conversation
    this.chain = Promise.resolve(); // sends and receives touch sessions one at a time
    this.flushing = false;
    this.threads = new Threads(this);
  }

  async load() {
    for (const m of await db.all('messages')) this.messages.set(m.id, m);
    for (const c of await db.all('conversations')) this.conversations.set(c.id, c);
    this.opkCache = new Map((await db.all('opks')).map((o) => [o.id, o]));
    // The relay re-delivers an envelope only until its TTL; older de-duplication entries go.
    await db.pruneBefore('seen', Date.now() - SEEN_KEEP_MS).catch(() => {});
  }

  /** A follower tab's view of what the leader wrote; conversations opened here but not yet
   * written to (a citizen found by CPR number) stay. */
  async reload() {
    const messages = new Map((await db.all('messages')).map((m) => [m.id, m]));
    const conversations = new Map((await db.all('conversations')).map((c) => [c.id, c]));
    for (const [id, c] of this.conversations) if (!conversations.has(id)) conversations.set(id, c);
    this.messages = messages;
    this.conversations = conversations;
  }

  serial(fn) {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => {});
    return p;
  }

  get acc() { return this.c.device.acc; }

  thread(convId) {
    // The relay's stored time orders a conversation the same way on every device; a message not
    // yet stored goes by its own clock, corrected to the relay's.
    const at = (m) => Number(m.stored ?? m.time);
    return [...this.messages.values()].filter((m) => m.conv === convId).sort((a, b) => at(a) - at(b) || a.seq - b.seq);
  }

  unreadTotal() { return [...this.conversations.values()].reduce((n, c) => n + (c.unread || 0), 0); }

  inbox() {
    return [...this.conversations.values()].sort((a, b) => b.last - a.last);
  }

  ensureConversation(id, fields) {
    const old = this.conversations.get(id);
    const conv = { id, unread: 0, last: 0, ...old, ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null)) };
    this.conversations.set(id, conv);
    return conv;
  }

  async markRead(convId) {
    // Read means seen: a thread left open in a tab no one looks at is not read (nor receipted).
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return undefined;
    if (this.c.follower) {
      const local = this.conversations.get(convId);
      if (local) local.unread = 0;
      return this.c.tabs.call('markRead', [convId]).catch(() => {});
    }
    const conv = this.conversations.get(convId);
    if (!conv) return;
    await this.threads.opened(conv);
  }

  /** Queues a text for a conversation; the target is the unit (citizen) or the citizen on behalf
   * of the unit (caseworker). Resolves once it is in the outbox. */
  async sendText(conv, body) {
    if (this.c.follower) return this.c.tabs.call('sendText', [conv, body]);
    return this.queue(conv, TEXT, utf8.encode(body), { text: body });
  }

  /** Queues a file: encrypted under a fresh key (spec/crypto.md §13), its ciphertext kept in the
   * outbox's upload store until the message is stored, the file itself kept for this device.
   * `file` is { name, type, bytes }. */
  async sendFile(conv, file) {
    if (this.c.follower) return this.c.tabs.call('sendFile', [conv, file]);
    if (file.bytes.length > MAX_FILE_BYTES) throw Object.assign(new Error('too_large'), { code: 'too_large' });
    const mediaType = /^[\x21-\x7e]{1,127}$/.test(file.type ?? '') ? file.type : 'application/octet-stream';
    let fileName = (file.name || 'fil').replace(/\0/g, '');
    while (utf8.encode(fileName).length > 255) fileName = fileName.slice(0, -1);
    const a = encryptAttachment(file.bytes);
    const id = toHex(blobId(a.digest));
    const body = encodeDescriptor({ key: a.key, digest: a.digest, size: a.size, mediaType, fileName });
    const blob = { id, sha: toHex(a.digest), size: a.ciphertext.length, have: 0, done: false };
    return this.queue(conv, ATTACHMENT, body, { text: '', file: { name: fileName, mediaType, size: a.size }, desc: toHex(body) },
      { blob }, (t, msg) => { t.put('uploads', id, a.ciphertext); t.put('files', msg.id, file.bytes); });
  }

  /** The outbox item of one content record of a unit thread (spec/client.md §12): version 2,
   * the thread reference inside. `target` defaults to the thread's addressing for texts. */
  record(conv, kind, body, target, now = this.c.now()) {
    const d = this.c.device;
    const citizen = this.c.isCitizen ? d.acc : fromHex(conv.citizen);
    const messageId = random(16), cmid = newCmid(now);
    const record = encodeContent({ kind, messageId, conversationId: threadId(citizen, conv.ten, conv.unit), sentMs: now, senderAccount: d.acc, senderDevice: d.dev, citizenAccount: citizen, tenant: conv.ten, unit: conv.unit, body });
    const to = target ?? (this.c.isCitizen ? { ten: conv.ten, unit: conv.unit } : { to: [citizen], ten: conv.ten, unit: conv.unit });
    return { messageId: toHex(messageId), item: { cmid: toHex(cmid), record, target: to, queued: now } };
  }

  /** Queues a record; with `fields` it is also a message of the thread (text, file, notice). */
  async queue(conv, kind, body, fields, extra = {}, more = null, target = undefined) {
    const d = this.c.device;
    const now = this.c.now();
    // A citizen's device shows its MitID evidence before its first text or file in a thread
    // (spec/client.md §15): queued first, in the same transaction.
    const present = this.c.isCitizen && (kind === TEXT || kind === ATTACHMENT) && this.threads.presentationDue(conv);
    // A unit device writing first in a thread whose citizen has shown nothing (found by CPR
    // number) asks her devices to present themselves, once per thread (spec/client.md §15).
    const held = this.conversations.get(conv.id);
    const ask = !this.c.isCitizen && (kind === TEXT || kind === ATTACHMENT) && !held?.presentation && !held?.identityAsked;
    // Drawn before the message's own record, so that its client message id, like its place in
    // the outbox, comes first (ids increase in the order sent: spec/protocol.md §8.1).
    let pres = present ? this.record(conv, PRESENTATION, present, undefined, now).item : null;
    if (ask) pres = this.record(conv, NOTICE, encodeNotice({ type: NOTICE_TYPES.identity_request }), undefined, now).item;
    if (pres) pres.queued = now - 1;
    const { messageId, item: base } = this.record(conv, kind, body, target, now);
    const item = { ...base, ...extra };
    const msg = fields ? { id: messageId, cmid: item.cmid, conv: conv.id, mine: true, ...fields, time: now, seq: now, status: 'queued', receipts: [], senderAcc: toHex(d.acc), senderDev: toHex(d.dev), ik: toHex(d.ik.pk) } : null;
    if (msg) item.msg = msg.id;
    const c = this.ensureConversation(conv.id, msg && kind !== NOTICE ? { last: now } : {});
    if (present) c.presented = now;
    if (ask) c.identityAsked = now;
    if (msg) this.messages.set(msg.id, msg);
    if (msg && kind === NOTICE) this.threads.restate(c);
    await db.write(['messages', 'outbox', 'conversations', 'uploads', 'files'], (t) => {
      if (msg) t.put('messages', msg.id, msg);
      if (pres) t.put('outbox', pres.cmid, pres);
      t.put('outbox', item.cmid, item); t.put('conversations', c.id, c);
      more?.(t, msg);
    });
    this.c.changed('messages');
    this.flush();
    return msg;
  }

  /** Uploads the blob of a queued attachment, resuming where the relay's `have` stands. Returns
   * 0 when the item may be sent (or has failed), -1 when the connection is gone, or ms to wait. */
  async upload(item) {
    const b = item.blob;
    const m = this.messages.get(item.msg);
    const ct = await db.get('uploads', b.id);
    if (!ct) { await this.finish(item, 'failed', null); return 0; }
    try {
      await uploadBlob((type, body) => this.c.request(type, body), { id: fromHex(b.id), ct, sha: fromHex(b.sha) }, (have) => {
        b.have = have;
        db.put('outbox', item.cmid, item).catch(() => {});
        if (m) { m.progress = Math.floor((100 * have) / ct.length); this.c.changed('messages'); }
      });
    } catch (e) {
      if (e.code === 'closed') return -1; // the next connection declares the blob again and resumes
      if (TRANSIENT.has(e.code) && e.code !== 'quota_exceeded') return Number(e.det?.retry ?? RETRY_MS);
      if (m) delete m.progress;
      await this.finish(item, e.code === 'over_limit' || e.code === 'quota_exceeded' ? 'too_large' : 'failed', null);
      return 0;
    }
    b.done = true;
    if (m) delete m.progress;
    await db.write(['outbox', 'messages'], (t) => { t.put('outbox', item.cmid, item); if (m) t.put('messages', m.id, m); });
    return 0;
  }

  /** Sends every queued message, oldest first, with its own cmid. */
  async flush() {
    if (this.c.status !== 'online') return;
    // A message queued while a flush runs (behind an upload, say) is sent by the same flush.
    if (this.flushing) { this.again = true; return; }
    this.flushing = true;
    let pass;
    try {
      do {
        this.again = false;
        pass = await this.flushOnce();
      } while (pass === true && this.again && this.c.status === 'online');
    } finally { this.flushing = false; }
    // The connection came back while this flush was still failing on the old one (an upload's
    // chunk rejected as the socket closed): the flush the reconnect asked for runs now.
    if (pass === 'offline' && this.again && this.c.status === 'online') this.flush();
  }

  /** One pass over the outbox: true when done, 'offline' when the connection went, false when
   * it waits for a retry. */
  async flushOnce() {
    const items = (await db.all('outbox')).sort((a, b) => a.queued - b.queued);
    for (const item of items) {
      if (this.c.status !== 'online') return 'offline';
      if (item.blob && !item.blob.done) {
        const w = await this.upload(item);
        if (w < 0) return 'offline';
        if (w) { clearTimeout(this.retryTimer); this.retryTimer = setTimeout(() => this.flush(), w); return false; }
        if (!item.blob.done) continue; // failed
      }
      const wait = await this.serial(() => this.trySend(item));
      if (wait) {
        // Keep the conversation's order: nothing after this message goes first.
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.flush(), wait);
        return false;
      }
    }
    return true;
  }

  async deviceSet(target) {
    try { return (await this.c.request(T.device_set_get, target)).body.list; } catch (e) {
      if (e.code === 'forbidden') return null;
      throw e;
    }
  }

  /** Fetches bundles for `target` and opens sessions to devices that have none. */
  async openSessions(target, only) {
    const bundles = (await this.c.request(T.bundles_fetch, target)).body.list;
    const opened = [];
    for (const b of bundles) {
      if (equal(b.dev, this.c.device.dev) || this.c.sessions.has(b.acc, b.dev)) continue;
      if (only && !only.has(toHex(b.dev))) continue;
      try {
        this.c.sessions.set(b.acc, b.dev, initiate(this.c.device.ik, b));
        opened.push([b.acc, b.dev]);
      } catch { /* a bundle whose signed prekey does not verify is never used */ }
    }
    return { bundles, opened };
  }

  async trySend(item) {
    const d = this.c.device;
    const targets = [];
    for (const acc of item.target.to ?? []) targets.push({ acc });
    if (item.target.ten) targets.push({ ten: item.target.ten, unit: item.target.unit });
    targets.push({ acc: d.acc });
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const required = new Map();
      try {
        for (const t of targets) {
          let list = await this.deviceSet(t);
          // Bundles only for the devices without a session: each fetch spends a one-time prekey
          // of every device it names (spec/protocol.md §6.4).
          const missing = list?.filter((x) => !equal(x.dev, d.dev) && !this.c.sessions.has(x.acc, x.dev)).map((x) => x.dev);
          if (!list || missing.length) {
            const { bundles } = await this.openSessions(list ? { ...t, devs: missing } : t);
            if (!list) list = bundles;
          }
          for (const x of list) if (!equal(x.dev, d.dev)) required.set(toHex(x.dev), x);
        }
      } catch (e) {
        // The relay answers a caseworker's look at a citizen without consent as it would the send.
        if (e.code === 'consent_required') { await this.finish(item, 'consent', null); return 0; }
        throw e;
      }
      const addrs = [...required.values()].filter((x) => this.c.sessions.has(x.acc, x.dev));
      if (!addrs.length) { await this.finish(item, 'failed', null); return 0; }
      const out = fanout(addrs.map((x) => this.c.sessions.get(x.acc, x.dev)), item.record);
      addrs.forEach((x, i) => this.c.sessions.set(x.acc, x.dev, out.sessions[i]));
      await db.write(['sessions'], (t) => this.c.sessions.persist(t, addrs.map((x) => [x.acc, x.dev])));
      const frame = { cmid: fromHex(item.cmid), ...item.target, rcpt: true, env: addrs.map((x, i) => ({ dev: x.dev, ct: out.envelopes[i] })) };
      if (item.blob) frame.blobs = [fromHex(item.blob.id)];
      try {
        const stored = await this.c.request(T.send, frame);
        await this.finish(item, 'sent', stored.body.time, addrs.filter((x) => !equal(x.acc, d.acc)).length);
        offerPushAfterSend(this.c, { ask: this.c.isCitizen }); // the answer can then reach a closed app (spec/push.md)
        return 0;
      } catch (e) {
        if (e.code === 'device_mismatch') {
          this.mismatches = (this.mismatches ?? 0) + 1;
          for (const s of e.det.stale ?? []) this.c.sessions.dropDevice(toHex(s));
          continue;
        }
        if (e.code === 'consent_required') { await this.finish(item, 'consent', null); return 0; }
        if (e.code === 'closed') return 0; // stays queued until the next connection
        if (TRANSIENT.has(e.code)) return Number(e.det.retry ?? RETRY_MS);
        await this.finish(item, 'failed', null);
        return 0;
      }
    }
    return MISMATCH_WAIT_MS;
  }

  async finish(item, status, time, recipients = 0) {
    const m = this.messages.get(item.msg);
    if (m) {
      // A delivery receipt that came first stays: 'sent' never undoes 'delivered'.
      if (!(status === 'sent' && m.status === 'delivered')) m.status = status;
      if (time) m.stored = time;
      m.recipients = recipients;
    }
    await db.write(['messages', 'outbox', 'uploads'], (t) => {
      if (m) t.put('messages', m.id, m);
      t.del('outbox', item.cmid);
      if (item.blob) t.del('uploads', item.blob.id); // stored or given up: the ciphertext goes
    });
    this.c.changed('messages');
  }

  /** A caseworker's view of a citizen's consent, from the relay's consent_changed notice. */
  async consentChanged(b) {
    this.threads.consent?.clear();
    const acc = toHex(b.acc);
    const convs = [...this.conversations.values()].filter((c) => c.citizen === acc && c.ten === b.ten && (!b.unit || c.unit === b.unit));
    for (const c of convs) { c.consent = b.kind === 1 ? 'granted' : 'withdrawn'; c.consentTime = b.time; }
    if (convs.length) await db.write(['conversations'], (t) => { for (const c of convs) t.put('conversations', c.id, c); });
    this.c.changed('messages');
  }

  receipt(r) {
    return this.serial(async () => {
      if (equal(r.acc, this.acc)) return; // our own other devices
      const cmid = toHex(r.cmid);
      const m = [...this.messages.values()].find((x) => x.cmid === cmid);
      if (!m) return;
      const dev = toHex(r.dev);
      if (!m.receipts.includes(dev)) m.receipts.push(dev);
      m.status = 'delivered';
      await db.put('messages', m.id, m);
      this.c.changed('messages');
    });
  }

  expired(r) {
    return this.serial(async () => {
      const m = [...this.messages.values()].find((x) => x.cmid === toHex(r.cmid));
      if (m && m.status !== 'delivered') { m.status = 'expired'; await db.put('messages', m.id, m); this.c.changed('messages'); }
    });
  }

  receive(dl) {
    return this.serial(() => this.receiveOne(dl));
  }

  async receiveOne(dl) {
    const seenKey = toHex(dl.acc) + toHex(dl.dev) + toHex(dl.cmid);
    const ack = () => this.c.request(T.ack, { seq: dl.seq }).catch(() => {});
    if (await db.get('seen', seenKey)) return ack();
    let result;
    try {
      result = this.open(dl);
    } catch {
      await db.put('seen', seenKey, { failed: true, time: Date.now() });
      return ack(); // unreadable: dropped, never delivered again
    }
    const { session, plaintext, usedOpk } = result;
    let content;
    try { content = decodeContent(plaintext); } catch { content = null; }
    if (!content || !equal(content.senderAccount, dl.acc) || !equal(content.senderDevice, dl.dev)) {
      await db.put('seen', seenKey, { failed: true, time: Date.now() });
      return ack();
    }
    const dirty = { messages: new Set(), convs: new Set(), files: new Map() };
    const from = { acc: dl.acc, dev: dl.dev, ik: session.ikRemote, stored: dl.time, seq: dl.seq, cmid: dl.cmid, ten: dl.ten, unit: dl.unit };
    try {
      const r = content.kind === HISTORY ? await this.threads.history(content, from, dirty) : await this.receiveRecord(content, from, dirty);
      if (r === 'wait') return undefined;
      if (r === 'drop') {
        await db.put('seen', seenKey, { failed: true, time: Date.now() });
        return ack();
      }
    } catch {
      // The relay could not be asked (who may speak): nothing is kept, the session stays as it
      // was, and the unacknowledged envelope comes again.
      await this.reload();
      return undefined;
    }
    this.c.sessions.set(dl.acc, dl.dev, session);
    await db.write(['sessions', 'messages', 'conversations', 'seen', 'opks', 'files'], (t) => {
      this.c.sessions.persist(t, [[dl.acc, dl.dev]]);
      for (const id of dirty.messages) { const m = this.messages.get(id); if (m) t.put('messages', id, m); }
      for (const id of dirty.convs) { const c = this.conversations.get(id); if (c) t.put('conversations', id, c); }
      for (const [id, bytes] of dirty.files) t.put('files', id, bytes);
      t.put('seen', seenKey, { time: Date.now() });
      if (usedOpk) t.del('opks', usedOpk);
    });
    if (usedOpk) this.opkCache.delete(usedOpk);
    this.c.changed('messages');
    return ack();
  }

  /** A text, file, notice, receipt or presentation: 'ok' once applied, 'wait' when its
   * attachment could not be fetched now (the envelope comes again), 'drop' when it is unusable. */
  async receiveRecord(content, from, dirty) {
    const id = toHex(content.messageId);
    let file = null;
    if (content.kind === ATTACHMENT && !this.messages.has(id)) {
      // Downloaded and checked before anything is persisted or acknowledged: a download cut by the
      // connection leaves the session as it was, and the relay delivers the envelope again.
      let desc;
      try { desc = decodeDescriptor(content.body); } catch { return 'drop'; }
      file = { name: desc.fileName, mediaType: desc.mediaType, size: desc.size };
      const got = await this.download(desc);
      if (got === null) return 'wait';
      if (got.error) file.error = got.error; else dirty.files.set(id, got.bytes);
    }
    await this.apply(content, from, dirty, file);
    return 'ok';
  }

  /**
   * Places one content record in its thread and applies it (spec/client.md §12-§15). `from` is
   * its sender ({ acc, dev, ik, stored, seq, cmid, ten, unit, history }); changed records are
   * added to `dirty`. A record that may not speak in its thread is dropped.
   */
  async apply(content, from, dirty, file = null) {
    const id = toHex(content.messageId);
    const convId = toHex(content.conversationId);
    const mine = equal(content.senderAccount, this.acc);
    const fields = {};
    let fromCitizen;
    if (content.version === 2 && content.tenant) {
      const citizen = toHex(content.citizenAccount);
      if (this.c.isCitizen && citizen !== toHex(this.acc)) return; // not this citizen's thread
      fromCitizen = toHex(content.senderAccount) === citizen;
      if (!fromCitizen && !mine && !from.history && !(await this.threads.unitDevice(content.tenant, content.unit, from.dev))) return;
      Object.assign(fields, { ten: content.tenant, unit: content.unit });
      if (!this.c.isCitizen) fields.citizen = citizen;
    } else {
      if (from.ten) { fields.ten = from.ten; fields.unit = from.unit; }
      if (!this.c.isCitizen && from.ten && equal(conversationId(from.acc, from.ten, from.unit), content.conversationId)) fields.citizen = toHex(from.acc);
      fromCitizen = !this.c.isCitizen ? fields.citizen === toHex(content.senderAccount) : mine;
    }
    const known = this.conversations.get(convId);
    const otherSide = this.c.isCitizen ? !mine : (fromCitizen || (known?.citizen && known.citizen === toHex(content.senderAccount)));
    const base = { id, cmid: from.cmid ? toHex(from.cmid) : id, conv: convId, mine, time: content.sentMs, seq: from.seq ?? from.stored, status: mine ? 'sent' : 'received', receipts: [], senderAcc: toHex(content.senderAccount), senderDev: toHex(content.senderDevice), stored: from.stored, ik: from.ik ? toHex(from.ik) : null };
    if (from.history) base.history = true;
    if (content.kind === TEXT || content.kind === ATTACHMENT) {
      if (this.messages.has(id)) return;
      const conv = this.ensureConversation(convId, { ...fields, last: Math.max(Number(content.sentMs), Number(known?.last ?? 0)) });
      const msg = { ...base, text: content.kind === TEXT ? text.decode(content.body) : '', file, fromCitizen: !!fromCitizen };
      if (content.kind === ATTACHMENT) {
        msg.desc = toHex(content.body);
        if (!file) { try { const dsc = decodeDescriptor(content.body); msg.file = { name: dsc.fileName, mediaType: dsc.mediaType, size: dsc.size, error: 'missing' }; } catch { return; } }
      }
      this.messages.set(id, msg);
      if (otherSide && !from.history) conv.unread = (conv.unread ?? 0) + 1;
      this.threads.restate(conv);
      dirty.messages.add(id); dirty.convs.add(convId);
      return;
    }
    if (content.kind === NOTICE) { await this.threads.notice(content, from, fields, base, dirty, fromCitizen); return; }
    if (content.kind === RECEIPT) { await this.threads.receipt(content, fromCitizen, convId, dirty); return; }
    if (content.kind === PRESENTATION) { await this.threads.presentation(content, from, fields, base, dirty); }
    // other kinds: acknowledged and dropped (spec/crypto.md §11)
  }

  /** Downloads and decrypts an attachment: { bytes }, { error } when the relay has no blob for
   * this device or it fails its checks, or null when it should be tried on the next connection. */
  async download(desc) {
    for (let i = 0; ; i++) {
      try {
        return { bytes: await fetchAttachment((type, body) => this.c.request(type, body), desc) };
      } catch (e) {
        if (e.code === 'closed') return null;
        if (TRANSIENT.has(e.code)) {
          if (i + 1 >= DOWNLOAD_TRIES) return null;
          await new Promise((r) => setTimeout(r, Math.min(Number(e.det?.retry ?? 1000), RETRY_MS)));
          continue;
        }
        return { error: e.code === 'not_found' ? 'missing' : 'verify' };
      }
    }
  }

  /** The file of an attachment message, from this browser's store. */
  file(id) { return db.get('files', id); }

  /** Decrypts one delivered envelope with the sender device's session, or opens a new one from a
   * prekey envelope. Throws on any failure, leaving every session as it was. */
  open(dl) {
    const d = this.c.device;
    const h = parse(dl.ct);
    const s = this.c.sessions.get(dl.acc, dl.dev);
    if (h.type === PREKEY && (!s || !prekeyMatches(s, h.prekey))) {
      const known = this.c.sessions.peerIk(dl.acc, dl.dev);
      const r = respond(d.ik, dl.ct, (id) => [d.spk, d.oldSpk].find((k) => k && k.id === id) ?? null, (id) => this.opkCache.get(id) ?? null);
      if (known && !equal(known, r.peerIk)) this.keyChanged(dl);
      return { session: r.session, plaintext: r.plaintext, usedOpk: r.opkId };
    }
    if (!s) throw new Error('no session');
    const [session, plaintext] = decrypt(s, dl.ct, h);
    return { session, plaintext, usedOpk: 0 };
  }

  keyChanged(dl) { this.changedKeys = (this.changedKeys ?? new Set()).add(toHex(dl.dev)); }
}
