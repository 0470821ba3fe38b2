// SPDX-License-Identifier: MPL-2.0
// Unit threads beyond texts and files (spec/client.md §12-§18): thread state from system notices,
// read receipts, the citizen's verified identity, history for a unit's new devices, and the
// tenant's public information. Messaging places records; this module applies what they mean.
import { sodium } from '../crypto/sodium.js';
import { ascii, compare, concat, equal, fromHex, toHex } from '../crypto/bytes.js';
import { ATTACHMENT, decodeContent, encodeContent, HISTORY, NOTICE, PRESENTATION, RECEIPT, TEXT, threadId } from '../crypto/content.js';
import { random } from '../crypto/random.js';
import { newCmid } from '../protocol/cmid.js';
import { T } from '../protocol/schema.js';
import * as db from '../store/db.js';
import { decodeHistory, decodeNotice, decodePresentation, decodeReceipt, encodeHistory, encodeNotice, encodePresentation, encodeReceipt, MAX_RECEIPT_IDS, NOTICE_TYPES } from './records.js';
import { storedNotice, threadState } from './threadstate.js';
import { verifyPresentation } from '../identity/presentation.js';

// Tenant information is fetched again at most this often (spec/client.md §18).
const TENANT_REFRESH_MS = 60000;
// A presentation is sent again on request at most this often per thread (§15).
const PRESENT_AGAIN_MS = 10 * 60 * 1000;
// Room for history entries in one record: MAX_PLAINTEXT less the content header and padding slack.
const HISTORY_BYTES = 60000;
const DAY_MS = 24 * 3600 * 1000;
const CONSENT_CHECK_MS = 30000;
const utf8 = new TextEncoder();

const CONV_CTX = concat(ascii('wakks/v1/conversation'), Uint8Array.of(0));
/** The two-account conversation id (spec/client.md §7). */
export function pairId(a, b) {
  const [lo, hi] = compare(a, b) <= 0 ? [a, b] : [b, a];
  return sodium.crypto_hash_sha256(concat(CONV_CTX, Uint8Array.of(0), lo, hi)).slice(0, 16);
}

export class Threads {
  constructor(messaging) {
    this.m = messaging;
    this.tenants = new Map(); // tenant -> { info, at }
    this.unitSets = new Map(); // "ten/unit" -> { devs: Set(hex), at }
  }

  get c() { return this.m.c; }

  // --- tenant information ---

  async tenantInfo(ten, force = false) {
    const had = this.tenants.get(ten);
    // Kept for the page's life; fetched again when forced (a rotated key) or after a failure,
    // at most once per TENANT_REFRESH_MS either way.
    if (had && ((had.info && !force) || Date.now() - had.at < TENANT_REFRESH_MS)) return had.info;
    let info = null;
    try {
      const r = await fetch(new URL(`/tenant/${encodeURIComponent(ten)}`, location.href), { cache: 'no-store' });
      if (r.ok) info = await r.json();
    } catch { /* offline: unavailable */ }
    this.tenants.set(ten, { info: info ?? had?.info ?? null, at: Date.now() });
    return info ?? had?.info ?? null;
  }

  async receiptsOn(ten) { return (await this.tenantInfo(ten))?.read_receipts !== false; }

  // --- who may speak in a unit thread ---

  async unitDevice(ten, unit, dev) {
    const key = `${ten}/${unit}`;
    const hex = toHex(dev);
    let s = this.unitSets.get(key);
    if (!s || !s.devs.has(hex)) {
      // A transient failure (the connection went) throws: the envelope is then not acknowledged
      // and comes again, rather than being dropped as if its sender had no standing.
      const list = await this.m.deviceSet({ ten, unit });
      if (!list) return false;
      s = { devs: new Set(list.map((x) => toHex(x.dev))), at: Date.now() };
      this.unitSets.set(key, s);
    }
    return s.devs.has(hex);
  }

  // --- state ---

  restate(conv) {
    const recs = this.m.thread(conv.id).map((x) => (x.notice ? { notice: x.notice, sender: x.senderAcc } : x.fromCitizen ? { citizen: true } : {}));
    Object.assign(conv, threadState(recs));
  }

  /** The person opened the thread: nothing of it is unread, and the other side learns it was read. */
  async opened(conv) {
    const other = (x) => !x.notice && (this.c.isCitizen ? !x.mine : x.senderAcc === conv.citizen);
    const msgs = this.m.thread(conv.id).filter(other);
    const unsent = msgs.filter((x) => !x.receiptSent && !x.history);
    if (!conv.unread && !unsent.length) return;
    conv.unread = 0;
    const items = [];
    if (unsent.length && conv.ten && (this.c.isCitizen || conv.citizen) && await this.receiptsOn(conv.ten)) {
      for (let i = 0; i < unsent.length; i += MAX_RECEIPT_IDS) {
        const ids = unsent.slice(i, i + MAX_RECEIPT_IDS).map((x) => fromHex(x.id));
        items.push(this.m.record(conv, RECEIPT, encodeReceipt({ readMs: this.c.now(), messageIds: ids })).item);
      }
    }
    for (const x of unsent) x.receiptSent = true;
    // The person's other devices move their seen mark too: unread state is per person (§14).
    const newest = msgs.at(-1);
    if (newest && conv.seen !== newest.id) {
      conv.seen = newest.id;
      if (await this.ownOtherDevices()) {
        items.push(this.m.record(conv, NOTICE, encodeNotice({ type: NOTICE_TYPES.seen, ref: fromHex(newest.id) }), { to: [this.m.acc] }).item);
      }
    }
    await db.write(['conversations', 'messages', 'outbox'], (t) => {
      t.put('conversations', conv.id, conv);
      for (const x of unsent) t.put('messages', x.id, x);
      for (const it of items) t.put('outbox', it.cmid, it);
    });
    this.c.changed('messages');
    if (items.length) this.m.flush();
  }

  /** Whether the person has other devices: asked once per connection (and again when the
   * account's devices change), not on every read. */
  async ownOtherDevices() {
    if (this.ownOthers === undefined) {
      const list = await this.m.deviceSet({ acc: this.m.acc }).catch(() => null);
      if (!list) return false;
      this.ownOthers = list.some((x) => !equal(x.dev, this.c.device.dev));
    }
    return this.ownOthers;
  }

  // --- notices ---

  /** Sends take, handover (opts.account, opts.note), answered, closed or reopened. */
  async sendNotice(conv, name, opts = {}) {
    if (this.c.follower) return this.c.tabs.call('sendNotice', [conv, name, opts]);
    const type = NOTICE_TYPES[name];
    const body = encodeNotice({ type, account: opts.account ? fromHex(opts.account) : undefined, note: opts.note ?? '' });
    const notice = { name, account: opts.account ?? null, note: opts.note ?? '', state: 0, ref: null };
    return this.m.queue(conv, NOTICE, body, { text: '', notice }, {}, null, { ten: conv.ten, unit: conv.unit });
  }

  /** Asks the citizen's devices for their MitID evidence again. */
  async requestIdentity(conv) {
    if (this.c.follower) return this.c.tabs.call('requestIdentity', [conv]);
    const { item } = this.m.record(conv, NOTICE, encodeNotice({ type: NOTICE_TYPES.identity_request }));
    await db.put('outbox', item.cmid, item);
    this.m.flush();
    return null;
  }

  async notice(content, from, fields, base, dirty, fromCitizen) {
    let n;
    try { n = decodeNotice(content.body); } catch { return; }
    // Only the unit's devices manage a thread: a citizen's notice is dropped (`seen` aside, which
    // comes from the receiver's own account).
    if (n.name !== 'seen' && fromCitizen) return;
    const convId = toHex(content.conversationId);
    if (n.name === 'seen') {
      if (!base.mine) return;
      const conv = this.m.conversations.get(convId);
      const upto = this.m.messages.get(toHex(n.ref));
      if (!conv || !upto || upto.conv !== convId) return;
      const at = Number(upto.stored ?? upto.time);
      conv.unread = this.m.thread(convId).filter((x) => !x.notice && !x.mine && (this.c.isCitizen || x.senderAcc === conv.citizen) && Number(x.stored ?? x.time) > at).length;
      conv.seen = upto.id;
      dirty.convs.add(convId);
      return;
    }
    if (!fields.ten) return; // types 1-7 and 9 belong to a unit thread
    if (n.name === 'identity_request') {
      if (this.c.isCitizen) { this.m.ensureConversation(convId, fields); dirty.convs.add(convId); await this.presentAgain(convId); }
      return;
    }
    if (this.c.isCitizen || this.m.messages.has(base.id)) return; // the citizen never gets these
    const conv = this.m.ensureConversation(convId, fields);
    this.m.messages.set(base.id, { ...base, text: '', notice: storedNotice(n) });
    this.restate(conv);
    dirty.messages.add(base.id); dirty.convs.add(convId);
  }

  // --- read receipts ---

  async receipt(content, fromCitizen, convId, dirty) {
    let r;
    try { r = decodeReceipt(content.body); } catch { return; }
    const conv = this.m.conversations.get(convId);
    if (!conv) return;
    if (conv.ten && !(await this.receiptsOn(conv.ten))) return; // the tenant's switch: none shown
    const citizen = this.c.isCitizen ? toHex(this.m.acc) : conv.citizen;
    const held = r.messageIds.map((id) => this.m.messages.get(toHex(id))).filter((x) => x && x.conv === convId && !x.notice);
    const citizenSide = (x) => x.senderAcc === citizen;
    // A receipt names only the other side's messages; one naming its own side is ignored whole.
    if (held.some((x) => citizenSide(x) === !!fromCitizen)) return;
    for (const x of held) {
      const ours = this.c.isCitizen ? citizenSide(x) : !citizenSide(x);
      if (!ours) continue;
      if (!x.readAt || r.readMs < x.readAt) { x.readAt = r.readMs; dirty.messages.add(x.id); }
    }
  }

  // --- the citizen's identity ---

  /** The presentation body a citizen's device sends before its first message in a thread. */
  presentationDue(conv) {
    const p = this.c.device.presentation;
    const had = this.m.conversations.get(conv.id)?.presented;
    if (!p || had) return null;
    return encodePresentation({ issuer: p.issuer, challenge: fromHex(p.challenge), token: p.token });
  }

  async presentAgain(convId) {
    const conv = this.m.conversations.get(convId);
    const p = this.c.device.presentation;
    if (!conv || !p || (conv.presented && Date.now() - conv.presented < PRESENT_AGAIN_MS)) return;
    conv.presented = Date.now();
    const { item } = this.m.record(conv, PRESENTATION, encodePresentation({ issuer: p.issuer, challenge: fromHex(p.challenge), token: p.token }));
    await db.write(['outbox', 'conversations'], (t) => { t.put('outbox', item.cmid, item); t.put('conversations', conv.id, conv); });
    setTimeout(() => this.m.flush(), 0);
  }

  async presentation(content, from, fields, base, dirty) {
    if (this.c.isCitizen || !fields.citizen || toHex(content.senderAccount) !== fields.citizen) return;
    let p;
    try { p = decodePresentation(content.body); } catch { p = null; }
    let result = { ok: false, reason: 'malformed' };
    if (p && from.ik) {
      result = await verifyPresentation(p, from.ik, await this.tenantInfo(fields.ten));
      if (!result.ok && result.unknownKid) result = await verifyPresentation(p, from.ik, await this.tenantInfo(fields.ten, true));
    } else if (p) result = { ok: false, reason: 'key_binding' };
    const convId = toHex(content.conversationId);
    const conv = this.m.ensureConversation(convId, fields);
    const prev = conv.identity;
    if (result.ok) conv.identity = { ok: true, name: result.name, cpr: result.cpr, iat: result.iat, at: Number(content.sentMs) };
    else if (!prev?.ok) conv.identity = { ok: false, reason: result.reason, at: Number(content.sentMs) };
    if (result.ok) conv.label = undefined;
    // Kept to pass on with the unit's history (§16).
    conv.presentation = { id: base.id, body: toHex(content.body), sentMs: Number(content.sentMs), acc: base.senderAcc, dev: base.senderDev, ik: from.ik ? toHex(from.ik) : null, stored: from.stored };
    dirty.convs.add(convId);
  }

  /** Presentations that could not be checked (the tenant's information was not at hand) are
   * checked again on the next connection (§15 step 2). */
  async verifyAgain() {
    const todo = [...this.m.conversations.values()].filter((c) => c.identity?.reason === 'unavailable' && c.presentation?.ik);
    for (const conv of todo) {
      let p;
      try { p = decodePresentation(fromHex(conv.presentation.body)); } catch { continue; }
      const r = await verifyPresentation(p, fromHex(conv.presentation.ik), await this.tenantInfo(conv.ten, true));
      if (r.reason === 'unavailable') continue;
      conv.identity = r.ok ? { ok: true, name: r.name, cpr: r.cpr, iat: r.iat, at: conv.presentation.sentMs } : { ok: false, reason: r.reason, at: conv.presentation.sentMs };
      await db.put('conversations', conv.id, conv);
      this.c.changed('messages');
    }
  }

  /** The full CPR number, on the person's explicit request; the reveal is kept in the device's
   * audit log (time, thread, citizen account; never the number). */
  async reveal(conv) {
    const entry = { time: Date.now(), kind: 'cpr_reveal', thread: conv.id, citizen: conv.citizen };
    const log = (await db.get('kv', 'audit')) ?? [];
    log.push(entry);
    await db.put('kv', 'audit', log.slice(-1000));
    return conv.identity?.cpr ?? '';
  }

  // --- history for new devices (§16) ---

  async afterAuth() {
    this.unitSets.clear();
    this.ownOthers = undefined;
    await this.verifyAgain().catch(() => {});
    if (!this.c.isCitizen && this.c.device.unit) await this.checkUnit(this.c.device.tenant, this.c.device.unit).catch(() => {});
  }

  async unitChanged(b) {
    this.unitSets.delete(`${b.ten}/${b.unit}`);
    if (!this.c.isCitizen && b.ten === this.c.device.tenant && b.unit === this.c.device.unit) await this.checkUnit(b.ten, b.unit).catch(() => {});
  }

  async checkUnit(ten, unit) {
    const list = await this.m.deviceSet({ ten, unit });
    if (!list) return;
    const key = `unitset:${ten}/${unit}`;
    const recorded = await db.get('kv', key);
    await db.put('kv', key, list.map((x) => toHex(x.dev)));
    if (!recorded) return;
    const me = toHex(this.c.device.dev);
    const fresh = list.filter((x) => !recorded.includes(toHex(x.dev)) && toHex(x.dev) !== me);
    for (const x of fresh) await this.giveHistory(ten, unit, x);
  }

  async giveHistory(ten, unit, target) {
    const devHex = toHex(target.dev);
    const offered = [...this.m.messages.values()].some((x) => x.notice?.name === 'history_offer' && x.notice.ref === devHex && !x.mine);
    if (offered) return;
    const convs = [...this.m.conversations.values()].filter((c) => c.ten === ten && c.unit === unit && c.citizen);
    if (!convs.length) return;
    const days = (await this.tenantInfo(ten))?.history_days ?? 30;
    if (!days) return;
    const cutoff = this.c.now() - days * DAY_MS;
    const d = this.c.device;
    const entries = [];
    for (const conv of convs) {
      const citizen = fromHex(conv.citizen);
      const cid = threadId(citizen, ten, unit);
      const rec = (x, kind, body) => encodeContent({ kind, messageId: fromHex(x.id), conversationId: cid, sentMs: x.time ?? x.sentMs, senderAccount: fromHex(x.senderAcc ?? x.acc), senderDevice: fromHex(x.senderDev ?? x.dev), citizenAccount: citizen, tenant: ten, unit, body });
      const p = conv.presentation;
      if (p && Number(p.stored ?? p.sentMs) >= cutoff) entries.push({ storedMs: Number(p.stored ?? p.sentMs), senderIk: p.ik ? fromHex(p.ik) : null, record: rec({ id: p.id, time: p.sentMs, acc: p.acc, dev: p.dev }, PRESENTATION, fromHex(p.body)) });
      for (const x of this.m.thread(conv.id)) {
        const at = Number(x.stored ?? x.time);
        if (at < cutoff || x.status === 'queued' || x.status === 'failed' || x.status === 'consent') continue;
        let kind, body;
        if (x.notice) {
          const type = NOTICE_TYPES[x.notice.name];
          if (!(type <= 5 || type === 7)) continue;
          kind = NOTICE;
          body = encodeNotice({ type, account: x.notice.account ? fromHex(x.notice.account) : undefined, ref: x.notice.ref ? fromHex(x.notice.ref) : undefined, state: x.notice.state ?? 0, note: x.notice.note });
        } else if (x.file) {
          if (!x.desc) continue;
          kind = ATTACHMENT; body = fromHex(x.desc);
        } else { kind = TEXT; body = utf8.encode(x.text ?? ''); }
        entries.push({ storedMs: at, senderIk: x.ik ? fromHex(x.ik) : x.mine ? d.ik.pk : null, record: rec(x, kind, body) });
      }
    }
    if (!entries.length) return;
    entries.sort((a, b) => a.storedMs - b.storedMs);
    // Someone is giving the device its history: the offer tells the unit's other devices.
    const newest = convs.sort((a, b) => b.last - a.last)[0];
    const offer = this.m.record(newest, NOTICE, encodeNotice({ type: NOTICE_TYPES.history_offer, ref: target.dev, account: target.acc }), { ten, unit }).item;
    const items = [offer];
    let batch = [], size = 0;
    const flushBatch = () => {
      if (!batch.length) return;
      const now = this.c.now();
      const record = encodeContent({ kind: HISTORY, messageId: random(16), conversationId: pairId(d.acc, target.acc), sentMs: now, senderAccount: d.acc, senderDevice: d.dev, citizenAccount: new Uint8Array(16), tenant: '', unit: '', body: encodeHistory(batch) });
      items.push({ cmid: toHex(newCmid(now)), record, target: { to: [target.acc] }, queued: now + items.length });
      batch = []; size = 0;
    };
    for (const e of entries) {
      const n = 44 + e.record.length;
      if (size + n > HISTORY_BYTES || batch.length === 1024) flushBatch();
      batch.push(e); size += n;
    }
    flushBatch();
    await db.write(['outbox'], (t) => { for (const it of items) t.put('outbox', it.cmid, it); });
    this.m.flush();
  }

  async history(content, from, dirty) {
    let entries;
    try { entries = decodeHistory(content.body); } catch { return; }
    const own = equal(from.acc, this.m.acc);
    for (const e of entries) {
      let rec;
      try { rec = decodeContent(e.record); } catch { continue; }
      if (rec.version !== 2 || !rec.tenant || rec.kind < TEXT || rec.kind > PRESENTATION) continue;
      if (!own && !(await this.unitDevice(rec.tenant, rec.unit, from.dev))) continue;
      const days = (await this.tenantInfo(rec.tenant))?.history_days ?? 30;
      if (Number(e.storedMs) < this.c.now() - days * DAY_MS) continue;
      await this.m.apply(rec, { acc: rec.senderAccount, dev: rec.senderDevice, ik: e.senderIk, stored: e.storedMs, seq: e.storedMs, history: true }, dirty);
    }
  }

  // --- consent in the flow (§17) ---

  /** Asked again at most every CONSENT_CHECK_MS per thread (the view asks on every render);
   * a consent_changed push clears the answer. */
  async consentActive(conv) {
    const had = (this.consent ??= new Map()).get(conv.id);
    if (had && Date.now() - had.at < CONSENT_CHECK_MS) return had.active;
    const r = await this.c.request(T.consent_check, { acc: fromHex(conv.citizen), ten: conv.ten, unit: conv.unit });
    this.consent.set(conv.id, { active: !!r.body.active, at: Date.now() });
    return !!r.body.active;
  }
}
