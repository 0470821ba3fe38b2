// SPDX-License-Identifier: MPL-2.0
// ISO/IEC 7816-4 padding to 256-byte buckets up to 4 KiB, 4 KiB buckets above (spec/crypto.md §10).
import { fail } from './errors.js';

export const MAX_PLAINTEXT = 65536;

export function paddedLength(len) {
  const block = len + 1 <= 4096 ? 256 : 4096;
  return Math.ceil((len + 1) / block) * block;
}

export function pad(p) {
  const out = new Uint8Array(paddedLength(p.length));
  out.set(p);
  out[p.length] = 0x80;
  return out;
}

export function unpad(q) {
  let i = q.length - 1;
  while (i >= 0 && q[i] === 0) i--;
  if (i < 0 || q[i] !== 0x80) return fail();
  const p = q.slice(0, i);
  if (paddedLength(p.length) !== q.length) return fail();
  return p;
}
