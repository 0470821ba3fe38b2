// SPDX-License-Identifier: MPL-2.0
// The content record inside every envelope (spec/crypto.md §11). Version 2 carries the thread
// reference (citizen account, tenant, unit) inside the encryption; version 1 is still read.
import { sodium } from './sodium.js';
import { ascii, concat, equal, getU32, getU64, u8, u32, u64, zeros } from './bytes.js';
import { fail, FORMAT, LIMIT } from './errors.js';
import { MAX_PLAINTEXT } from './padding.js';

export const TEXT = 1;
export const ATTACHMENT = 2;
export const RECEIPT = 3;
export const NOTICE = 4;
export const PRESENTATION = 5;
export const HISTORY = 6;

// A tenant or unit id (spec/protocol.md §1 slug): 1..63 bytes.
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const CONV_CTX = concat(ascii('wakks/v1/conversation'), Uint8Array.of(0));
const z = (s) => concat(ascii(s), Uint8Array.of(0));

/** The thread id of (citizen, tenant, unit) (spec/client.md §7). */
export const threadId = (citizen, tenant, unit) =>
  sodium.crypto_hash_sha256(concat(CONV_CTX, citizen, z(tenant), z(unit))).slice(0, 16);

/**
 * Encodes a content record. With `tenant` given (even empty) it is version 2 and carries the
 * thread reference (`citizenAccount`, `tenant`, `unit`); without, version 1.
 */
export function encodeContent(c) {
  let out;
  if (c.tenant === undefined) {
    out = concat(u8(1), u8(c.kind), c.messageId, c.conversationId, u64(c.sentMs),
      c.senderAccount, c.senderDevice, u32(c.body.length), c.body);
  } else {
    const t = ascii(c.tenant), un = ascii(c.unit ?? '');
    if (t.length > 63 || un.length > 63) fail(LIMIT);
    out = concat(u8(2), u8(c.kind), c.messageId, c.conversationId, u64(c.sentMs),
      c.senderAccount, c.senderDevice, c.citizenAccount ?? zeros(16), u8(t.length), t, u8(un.length), un,
      u32(c.body.length), c.body);
  }
  if (out.length > MAX_PLAINTEXT) fail(LIMIT);
  return out;
}

const latin = (b) => String.fromCharCode(...b);

export function decodeContent(b) {
  if (b.length < 78 || (b[0] !== 1 && b[0] !== 2)) return fail(FORMAT);
  const head = {
    version: b[0], kind: b[1], messageId: b.slice(2, 18), conversationId: b.slice(18, 34), sentMs: getU64(b, 34),
    senderAccount: b.slice(42, 58), senderDevice: b.slice(58, 74),
  };
  if (b[0] === 1) {
    const len = getU32(b, 74);
    if (b.length !== 78 + len) return fail(FORMAT);
    return { ...head, body: b.slice(78) };
  }
  if (b.length < 96) return fail(FORMAT);
  const citizenAccount = b.slice(74, 90);
  const tl = b[90];
  if (b.length < 96 + tl) return fail(FORMAT);
  const tenant = latin(b.subarray(91, 91 + tl));
  const ul = b[91 + tl];
  if (b.length < 96 + tl + ul) return fail(FORMAT);
  const unit = latin(b.subarray(92 + tl, 92 + tl + ul));
  const len = getU32(b, 92 + tl + ul);
  if (b.length !== 96 + tl + ul + len) return fail(FORMAT);
  const noCitizen = citizenAccount.every((x) => x === 0);
  if ((tl === 0) !== (ul === 0)) return fail(FORMAT);
  if (tl && (!SLUG.test(tenant) || !SLUG.test(unit))) return fail(FORMAT);
  if (tl ? noCitizen : !noCitizen) return fail(FORMAT);
  if (tl && !equal(head.conversationId, threadId(citizenAccount, tenant, unit))) return fail(FORMAT);
  return { ...head, citizenAccount: tl ? citizenAccount : null, tenant, unit, body: b.slice(96 + tl + ul) };
}
