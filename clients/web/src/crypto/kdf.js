// SPDX-License-Identifier: MPL-2.0
// HMAC-SHA-256 and HKDF-SHA-256 (RFC 5869) built on it, and the ratchet KDFs (spec/crypto.md §3, §8.2).
import { sodium } from './sodium.js';
import { ascii, concat, u8, zeros } from './bytes.js';

export const hmac = (key, msg) => sodium.crypto_auth_hmacsha256(msg, key);

export function hkdf(salt, ikm, info, len) {
  const prk = hmac(salt ?? zeros(32), ikm);
  const out = new Uint8Array(len);
  let t = new Uint8Array(0);
  for (let i = 1, o = 0; o < len; i++) {
    t = hmac(prk, concat(t, info, u8(i)));
    out.set(t.subarray(0, Math.min(t.length, len - o)), o);
    o += t.length;
  }
  return out;
}

const RATCHET_ROOT = ascii('wakks/v1/ratchet-root');
const CHAIN_MESSAGE = ascii('wakks/v1/chain-message');
const CHAIN_NEXT = ascii('wakks/v1/chain-next');
const MESSAGE_KEY = ascii('wakks/v1/message-key');

export function kdfRk(rk, dhOut) {
  const okm = hkdf(rk, dhOut, RATCHET_ROOT, 64);
  return [okm.slice(0, 32), okm.slice(32, 64)];
}
export function kdfCk(ck) { return [hmac(ck, CHAIN_NEXT), hmac(ck, CHAIN_MESSAGE)]; }
export function messageKeys(mk) {
  const okm = hkdf(zeros(32), mk, MESSAGE_KEY, 56);
  return [okm.slice(0, 32), okm.slice(32, 56)];
}
