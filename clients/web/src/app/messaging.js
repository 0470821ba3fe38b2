// SPDX-License-Identifier: MPL-2.0
// Messages: fan-out to the required device set with device_mismatch retries and an outbox kept
// until `stored`; receiving with de-duplication, decryption and ack after persisting.
import { random } from '../crypto/random.js';
import { equal, fromHex, toHex } from '../crypto/bytes.js';
import { decodeContent, encodeContent, TEXT } from '../crypto/content.js';
import { parse, PREKEY } from '../crypto/envelope.js';
import { decrypt, prekeyMatches } from '../crypto/ratchet.js';
import { fanout } from '../crypto/fanout.js';
import { initiate, respond } from '../crypto/x3dh.js';
import { T } from '../protocol/schema.js';
import * as db from '../store/db.js';
import { conversationId } from './conversation.js';

// device_mismatch answers in a row before a message waits for the next connection: the set only
// changes when someone registers or is revoked.
const MAX_ATTEMPTS = 4;
const MISMATCH_WAIT_MS = 50000;
// Refusals that pass: the message stays queued and is tried again after `det.retry` or this.
const TRANSIENT = new Set(['rate_limited', 'unavailable', 'quota_exceeded', 'internal']);
const RETRY_MS = 5000;
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
  }

  async load() {
    for (const m of await db.all('messages')) this.messages.set(m.id, m);
    for (const c of await db.all('conversations')) this.conversations.set(c.id, c);
    this.opkCache = new Map((await db.all('opks')).map((o) => [o.id, o]));
    // The relay re-delivers an envelope only until its TTL; older de-duplication entries go.
    await db.pruneBefore('seen', Date.now() - SEEN_KEEP_MS).catch(() => {});
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
    const conv = this.conversations.get(convId);
    if (!conv || !conv.unread) return;
    conv.unread = 0;
    await db.put('conversations', convId, conv);
    this.c.changed('messages');
  }

  /** Queues a text for a conversation; the target is the unit (citizen) or the citizen on behalf
   * of the unit (caseworker). Resolves once it is in the outbox. */
  async sendText(conv, body) {
    const d = this.c.device;
    const citizen = this.c.isCitizen ? d.acc : fromHex(conv.citizen);
    const cid = conversationId(citizen, conv.ten, conv.unit);
    const messageId = random(16), cmid = random(16);
    const now = this.c.now();
    const record = encodeContent({ kind: TEXT, messageId, conversationId: cid, sentMs: now, senderAccount: d.acc, senderDevice: d.dev, body: utf8.encode(body) });
    const target = this.c.isCitizen ? { ten: conv.ten, unit: conv.unit } : { to: [citizen], ten: conv.ten, unit: conv.unit };
    const msg = { id: toHex(messageId), cmid: toHex(cmid), conv: conv.id, mine: true, text: body, time: now, seq: now, status: 'queued', receipts: [], senderAcc: toHex(d.acc), senderDev: toHex(d.dev) };
    const item = { cmid: toHex(cmid), record, target, msg: msg.id, queued: now };
    const c = this.ensureConversation(conv.id, { last: now });
    this.messages.set(msg.id, msg);
    await db.write(['messages', 'outbox', 'conversations'], (t) => {
      t.put('messages', msg.id, msg); t.put('outbox', item.cmid, item); t.put('conversations', c.id, c);
    });
    this.c.changed('messages');
    this.flush();
    return msg;
  }

  /** Sends every queued message, oldest first, with its own cmid. */
  async flush() {
    if (this.flushing || this.c.status !== 'online') return;
    this.flushing = true;
    try {
      const items = (await db.all('outbox')).sort((a, b) => a.queued - b.queued);
      for (const item of items) {
        if (this.c.status !== 'online') break;
        const wait = await this.serial(() => this.trySend(item));
        if (wait) {
          // Keep the conversation's order: nothing after this message goes first.
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.flush(), wait);
          break;
        }
      }
    } finally { this.flushing = false; }
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
      for (const t of targets) {
        let list = await this.deviceSet(t);
        let needBundles = !list || list.some((x) => !equal(x.dev, d.dev) && !this.c.sessions.has(x.acc, x.dev));
        if (needBundles) {
          const { bundles } = await this.openSessions(t);
          if (!list) list = bundles;
        }
        for (const x of list) if (!equal(x.dev, d.dev)) required.set(toHex(x.dev), x);
      }
      const addrs = [...required.values()].filter((x) => this.c.sessions.has(x.acc, x.dev));
      if (!addrs.length) { await this.finish(item, 'failed', null); return 0; }
      const out = fanout(addrs.map((x) => this.c.sessions.get(x.acc, x.dev)), item.record);
      addrs.forEach((x, i) => this.c.sessions.set(x.acc, x.dev, out.sessions[i]));
      await db.write(['sessions'], (t) => this.c.sessions.persist(t, addrs.map((x) => [x.acc, x.dev])));
      const frame = { cmid: fromHex(item.cmid), ...item.target, rcpt: true, env: addrs.map((x, i) => ({ dev: x.dev, ct: out.envelopes[i] })) };
      try {
        const stored = await this.c.request(T.send, frame);
        await this.finish(item, 'sent', stored.body.time, addrs.filter((x) => !equal(x.acc, d.acc)).length);
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
      m.status = status;
      if (time) m.stored = time;
      m.recipients = recipients;
    }
    await db.write(['messages', 'outbox'], (t) => { if (m) t.put('messages', m.id, m); t.del('outbox', item.cmid); });
    this.c.changed('messages');
  }

  /** A caseworker's view of a citizen's consent, from the relay's consent_changed notice. */
  async consentChanged(b) {
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
    this.c.sessions.set(dl.acc, dl.dev, session);
    const id = toHex(content.messageId);
    const convId = toHex(content.conversationId);
    const mine = equal(dl.acc, this.acc);
    const fresh = !this.messages.has(id) && content.kind === TEXT;
    let conv = null;
    if (fresh) {
      const fields = { last: Math.max(content.sentMs, this.conversations.get(convId)?.last ?? 0) };
      if (dl.ten) { fields.ten = dl.ten; fields.unit = dl.unit; }
      if (!this.c.isCitizen && dl.ten && equal(conversationId(dl.acc, dl.ten, dl.unit), content.conversationId)) fields.citizen = toHex(dl.acc);
      conv = this.ensureConversation(convId, fields);
      if (!mine) conv.unread = (conv.unread ?? 0) + 1;
      const msg = { id, cmid: toHex(dl.cmid), conv: convId, mine, text: text.decode(content.body), time: content.sentMs, seq: dl.seq, status: mine ? 'sent' : 'received', receipts: [], senderAcc: toHex(dl.acc), senderDev: toHex(dl.dev), stored: dl.time };
      this.messages.set(id, msg);
    }
    await db.write(['sessions', 'messages', 'conversations', 'seen', 'opks'], (t) => {
      this.c.sessions.persist(t, [[dl.acc, dl.dev]]);
      if (fresh) { t.put('messages', id, this.messages.get(id)); t.put('conversations', conv.id, conv); }
      t.put('seen', seenKey, { time: Date.now() });
      if (usedOpk) t.del('opks', usedOpk);
    });
    if (usedOpk) this.opkCache.delete(usedOpk);
    this.c.changed('messages');
    return ack();
  }

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
