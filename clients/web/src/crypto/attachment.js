// SPDX-License-Identifier: MPL-2.0
// Attachments (spec/crypto.md §13): secretstream in 64 KiB chunks, the first chunk's associated
// data binding the size, a SHA-256 digest over the whole ciphertext, and the descriptor.
import { sodium } from './sodium.js';
import { ascii, concat, equal, getU64, u8, u64 } from './bytes.js';
import { fail, FORMAT, LIMIT } from './errors.js';

export const CHUNK = 65536;
export const MAX_ATTACHMENT = 64 * 1024 * 1024;
const AD = ascii('wakks/v1/attachment');
const chunksOf = (size) => Math.max(1, Math.ceil(size / CHUNK));

export function encryptAttachment(plain) {
  if (plain.length > MAX_ATTACHMENT) fail(LIMIT);
  const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
  const n = chunksOf(plain.length);
  const parts = [header];
  for (let i = 0; i < n; i++) {
    const tag = i === n - 1 ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const ad = i === 0 ? concat(AD, u64(plain.length)) : null;
    parts.push(sodium.crypto_secretstream_xchacha20poly1305_push(state, plain.subarray(i * CHUNK, (i + 1) * CHUNK), ad, tag));
  }
  const ciphertext = concat(...parts);
  return { key, ciphertext, digest: sodium.crypto_hash_sha256(ciphertext), size: plain.length };
}

export function decryptAttachment(key, digest, size, ct) {
  const n = chunksOf(size);
  if (size > MAX_ATTACHMENT || ct.length !== 24 + size + 17 * n) fail();
  if (!equal(sodium.crypto_hash_sha256(ct), digest)) fail();
  let state;
  try { state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(ct.subarray(0, 24), key); } catch { return fail(); }
  const out = new Uint8Array(size);
  let o = 24;
  for (let i = 0; i < n; i++) {
    const len = Math.min(CHUNK, size - i * CHUNK) + 17;
    const ad = i === 0 ? concat(AD, u64(size)) : null;
    let r;
    try { r = sodium.crypto_secretstream_xchacha20poly1305_pull(state, ct.subarray(o, o + len), ad); } catch { return fail(); }
    const final = r && r.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (!r || final !== (i === n - 1)) fail();
    out.set(r.message, i * CHUNK);
    o += len;
  }
  return out;
}

export function encodeDescriptor(d) {
  const mt = ascii(d.mediaType);
  const fn = new TextEncoder().encode(d.fileName);
  if (mt.length > 127 || fn.length > 255 || d.size > MAX_ATTACHMENT) fail(LIMIT);
  return concat(u8(1), d.key, d.digest, u64(d.size), u8(mt.length), mt, u8(fn.length), fn);
}

export function decodeDescriptor(b) {
  if (b.length < 75 || b[0] !== 1) return fail(FORMAT);
  const size = getU64(b, 65);
  const ml = b[73];
  if (ml > 127 || b.length < 75 + ml) return fail(FORMAT);
  const mt = b.subarray(74, 74 + ml);
  const fl = b[74 + ml];
  if (b.length !== 75 + ml + fl || typeof size !== 'number' || size > MAX_ATTACHMENT) return fail(FORMAT);
  const fnb = b.subarray(75 + ml);
  if (mt.some((c) => c === 0 || c > 0x7f) || fnb.includes(0)) return fail(FORMAT);
  let fileName;
  try { fileName = new TextDecoder('utf-8', { fatal: true }).decode(fnb); } catch { return fail(FORMAT); }
  return { key: b.slice(1, 33), digest: b.slice(33, 65), size, mediaType: String.fromCharCode(...mt), fileName };
}
