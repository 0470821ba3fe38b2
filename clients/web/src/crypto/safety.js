// SPDX-License-Identifier: MPL-2.0
// Safety numbers (spec/crypto.md §14): 60 digits from two identity keys, the same on both sides.
import { sodium } from './sodium.js';
import { ascii, compare, concat } from './bytes.js';

export const SAFETY_ITERATIONS = 5200;
const PREFIX = concat(ascii('wakks/v1/safety-number'), Uint8Array.of(0, 1));

function half(ik) {
  let h = sodium.crypto_hash_sha512(concat(PREFIX, ik));
  for (let i = 1; i < SAFETY_ITERATIONS; i++) h = sodium.crypto_hash_sha512(concat(h, ik));
  let s = '';
  for (let c = 0; c < 6; c++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + h[5 * c + j];
    s += String(v % 100000).padStart(5, '0');
  }
  return s;
}

export function safetyNumber(a, b) {
  const ha = half(a), hb = half(b);
  const enc = (s) => ascii(s);
  return compare(enc(ha), enc(hb)) <= 0 ? ha + hb : hb + ha;
}

/** 12 groups of 5 digits. */
export const groups = (n) => n.match(/.{5}/g).join(' ');
