// SPDX-License-Identifier: MPL-2.0
// The bodies of the thread records (spec/client.md §13-§16): system notices (kind 4), read
// receipts (kind 3), identity presentations (kind 5) and history (kind 6). Strict: a body that
// breaks its grammar throws, and nothing of it is used.
import { concat, getU32, getU64, u8, u16, u32, u64, zeros } from '../crypto/bytes.js';

export class RecordError extends Error { constructor(why) { super(why); this.name = 'RecordError'; } }
const bad = (why) => { throw new RecordError(why); };
const isZero = (b) => b.every((x) => x === 0);
const utf8 = new TextEncoder();
const strict = new TextDecoder('utf-8', { fatal: true });

export const NOTICE_TYPES = {
  take: 1, handover: 2, answered: 3, closed: 4, reopened: 5, history_offer: 6, journal_status: 7, seen: 8, identity_request: 9,
};
export const NOTICE_NAMES = Object.fromEntries(Object.entries(NOTICE_TYPES).map(([k, v]) => [v, k]));
// Which fields each type uses (all others must be zero or empty).
const USES = {
  1: {}, 2: { account: 'required', note: true }, 3: {}, 4: { note: true }, 5: {},
  6: { ref: 'required', account: 'required' }, 7: { ref: 'required', state: [1, 2], note: true }, 8: { ref: 'required' }, 9: {},
};
export const MAX_NOTE_BYTES = 2000;

export function encodeNotice(n) {
  const note = utf8.encode(n.note ?? '');
  if (note.length > MAX_NOTE_BYTES) bad('note too long');
  return concat(u8(1), u8(n.type), n.ref ?? zeros(16), n.account ?? zeros(16), u8(n.state ?? 0), u16(note.length), note);
}

export function decodeNotice(b) {
  if (b.length < 37 || b[0] !== 1) bad('notice format');
  const type = b[1];
  const use = USES[type];
  if (!use) bad('unknown notice type');
  const ref = b.slice(2, 18), account = b.slice(18, 34), state = b[34];
  const len = (b[35] << 8) | b[36];
  if (len > MAX_NOTE_BYTES || b.length !== 37 + len) bad('notice length');
  let note = '';
  try { note = strict.decode(b.subarray(37)); } catch { bad('note not UTF-8'); }
  if (use.ref === 'required' ? isZero(ref) : !use.ref && !isZero(ref)) bad('ref');
  if (use.account === 'required' ? isZero(account) : !use.account && !isZero(account)) bad('account');
  if (use.state ? !use.state.includes(state) : state !== 0) bad('state');
  if (!use.note && len) bad('note');
  return { type, name: NOTICE_NAMES[type], ref: isZero(ref) ? null : ref, account: isZero(account) ? null : account, state, note };
}

export const MAX_RECEIPT_IDS = 64;

export function encodeReceipt(r) {
  const ids = r.messageIds;
  if (!ids.length || ids.length > MAX_RECEIPT_IDS) bad('receipt count');
  return concat(u8(1), u8(1), u64(r.readMs), u8(ids.length), ...ids);
}

export function decodeReceipt(b) {
  if (b.length < 11 || b[0] !== 1) bad('receipt format');
  if (b[1] !== 1) bad('receipt type');
  const count = b[10];
  if (!count || count > MAX_RECEIPT_IDS || b.length !== 11 + 16 * count) bad('receipt count');
  const messageIds = [];
  for (let i = 0; i < count; i++) messageIds.push(b.slice(11 + 16 * i, 27 + 16 * i));
  return { readMs: getU64(b, 2), messageIds };
}

export const MAX_TOKEN_BYTES = 16384;

export function encodePresentation(p) {
  const iss = utf8.encode(p.issuer), token = utf8.encode(p.token);
  if (!iss.length || iss.length > 255 || !token.length || token.length > MAX_TOKEN_BYTES || p.challenge.length !== 32) bad('presentation fields');
  return concat(u8(1), u8(iss.length), iss, p.challenge, u16(token.length), token);
}

export function decodePresentation(b) {
  if (b.length < 2 || b[0] !== 1) bad('presentation format');
  const il = b[1];
  if (!il || b.length < 2 + il + 34) bad('presentation issuer');
  let issuer = '';
  try { issuer = strict.decode(b.subarray(2, 2 + il)); } catch { bad('issuer not UTF-8'); }
  const challenge = b.slice(2 + il, 34 + il);
  const tl = (b[34 + il] << 8) | b[35 + il];
  if (!tl || tl > MAX_TOKEN_BYTES || b.length !== 36 + il + tl) bad('presentation token');
  const token = String.fromCharCode(...b.subarray(36 + il));
  if (!/^[\x21-\x7e]+$/.test(token)) bad('token not ASCII');
  return { issuer, challenge, token };
}

export const MAX_HISTORY_ENTRIES = 1024;

export function encodeHistory(entries) {
  if (!entries.length || entries.length > MAX_HISTORY_ENTRIES) bad('history count');
  return concat(u8(1), u16(entries.length), ...entries.flatMap((e) => [u64(e.storedMs), e.senderIk ?? zeros(32), u32(e.record.length), e.record]));
}

export function decodeHistory(b) {
  if (b.length < 3 || b[0] !== 1) bad('history format');
  const count = (b[1] << 8) | b[2];
  if (!count || count > MAX_HISTORY_ENTRIES) bad('history count');
  const out = [];
  let o = 3;
  for (let i = 0; i < count; i++) {
    if (b.length < o + 44) bad('history entry');
    const storedMs = getU64(b, o), senderIk = b.slice(o + 8, o + 40), len = getU32(b, o + 40);
    if (b.length < o + 44 + len) bad('history entry');
    out.push({ storedMs, senderIk: isZero(senderIk) ? null : senderIk, record: b.slice(o + 44, o + 44 + len) });
    o += 44 + len;
  }
  if (o !== b.length) bad('history trailing');
  return out;
}

/** "050384-xxxx": the CPR number with its last four digits hidden. */
export const maskCpr = (cpr) => (/^\d{10}$/.test(cpr) ? `${cpr.slice(0, 6)}-xxxx` : '');
