// SPDX-License-Identifier: MPL-2.0
// The content record inside every envelope (spec/crypto.md §11).
import { concat, getU32, getU64, u8, u32, u64 } from './bytes.js';
import { fail, FORMAT, LIMIT } from './errors.js';
import { MAX_PLAINTEXT } from './padding.js';

export const TEXT = 1;
export const ATTACHMENT = 2;
export const RECEIPT = 3;
export const NOTICE = 4;

export function encodeContent(c) {
  const out = concat(u8(1), u8(c.kind), c.messageId, c.conversationId, u64(c.sentMs),
    c.senderAccount, c.senderDevice, u32(c.body.length), c.body);
  if (out.length > MAX_PLAINTEXT) fail(LIMIT);
  return out;
}

export function decodeContent(b) {
  if (b.length < 78 || b[0] !== 1) return fail(FORMAT);
  const len = getU32(b, 74);
  if (b.length !== 78 + len) return fail(FORMAT);
  return {
    kind: b[1], messageId: b.slice(2, 18), conversationId: b.slice(18, 34), sentMs: getU64(b, 34),
    senderAccount: b.slice(42, 58), senderDevice: b.slice(58, 74), body: b.slice(78),
  };
}
