// SPDX-License-Identifier: MPL-2.0
// The per-device envelope: version, type, optional prekey part, ratchet header, AEAD body
// (spec/crypto.md §9). Parsing checks the format only; nothing is trusted before the AEAD.
import { concat, getU32, u8, u32 } from './bytes.js';
import { fail, FORMAT, LIMIT, VERSION } from './errors.js';
import { MAX_PLAINTEXT, paddedLength } from './padding.js';

export const PREKEY = 1;
export const MESSAGE = 2;
const MAX_BODY = paddedLength(MAX_PLAINTEXT) + 16;
const MIN_BODY = 256 + 16;

export function buildPrefix({ pending, prekey, dh, pn, n }) {
  const parts = [u8(1), u8(pending ? PREKEY : MESSAGE)];
  if (pending) {
    parts.push(prekey.ik, prekey.ek, u32(prekey.spkId), u8(prekey.opkId ? 1 : 0), u32(prekey.opkId || 0));
  }
  parts.push(dh, u32(pn), u32(n));
  return concat(...parts);
}

export function parse(env) {
  if (env.length < 2) return fail(FORMAT);
  if (env[0] !== 1) return fail(VERSION);
  const type = env[1];
  if (type !== PREKEY && type !== MESSAGE) return fail(FORMAT);
  let o = 2;
  let prekey = null;
  if (type === PREKEY) {
    if (env.length < 75) return fail(FORMAT);
    const flag = env[70];
    const opkId = getU32(env, 71);
    if (flag > 1 || (flag === 0 && opkId !== 0)) return fail(FORMAT);
    prekey = { ik: env.slice(2, 34), ek: env.slice(34, 66), spkId: getU32(env, 66), opk: flag === 1, opkId };
    o = 75;
  }
  if (env.length < o + 40) return fail(FORMAT);
  const dh = env.slice(o, o + 32);
  const pn = getU32(env, o + 32);
  const n = getU32(env, o + 36);
  if (pn === 0xffffffff || n === 0xffffffff) return fail(FORMAT);
  const body = env.subarray(o + 40);
  if (body.length < MIN_BODY) return fail(FORMAT);
  if (body.length > MAX_BODY) return fail(LIMIT);
  return { type, prekey, dh, pn, n, prefix: env.subarray(0, o + 40), body };
}
