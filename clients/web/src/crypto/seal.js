// SPDX-License-Identifier: MPL-2.0
// Session state at rest: the byte layout of spec/crypto.md §15, sealed with XChaCha20-Poly1305
// under the device storage key.
import { sodium } from './sodium.js';
import { random } from './random.js';
import { ascii, concat, getU32, u8, u32, zeros } from './bytes.js';
import { fail } from './errors.js';
import { MAX_SKIPPED_KEYS } from './ratchet.js';

const AD = concat(ascii('wakks/v1/session-state'), u8(1));
const HEAD = 315;

export function serialize(s) {
  const flags = (s.dhr ? 1 : 0) | (s.cks ? 2 : 0) | (s.ckr ? 4 : 0) | (s.pending ? 8 : 0) | (s.opkId ? 16 : 0);
  const parts = [u8(1), u8(s.role), u8(flags), s.ikLocal, s.ikRemote, s.rk, s.dhs.sk, s.dhs.pk,
    s.dhr ?? zeros(32), s.cks ?? zeros(32), s.ckr ?? zeros(32), u32(s.ns), u32(s.nr), u32(s.pn),
    s.ek, u32(s.spkId), u32(s.opkId || 0), u32(s.skipped.length)];
  for (const k of s.skipped) parts.push(k.dh, u32(k.n), k.mk);
  return concat(...parts);
}

export function deserialize(b) {
  if (b.length < HEAD || b[0] !== 1 || (b[1] !== 1 && b[1] !== 2) || (b[2] & ~0x1f)) return fail();
  const count = getU32(b, 311);
  if (count > MAX_SKIPPED_KEYS || b.length !== HEAD + 68 * count) return fail();
  const f = b[2];
  const at = (o) => b.slice(o, o + 32);
  const skipped = [];
  for (let i = 0, o = HEAD; i < count; i++, o += 68) skipped.push({ dh: at(o), n: getU32(b, o + 32), mk: b.slice(o + 36, o + 68) });
  return {
    role: b[1], ikLocal: at(3), ikRemote: at(35), rk: at(67), dhs: { sk: at(99), pk: at(131) },
    dhr: f & 1 ? at(163) : null, cks: f & 2 ? at(195) : null, ckr: f & 4 ? at(227) : null,
    ns: getU32(b, 259), nr: getU32(b, 263), pn: getU32(b, 267), ek: at(271), spkId: getU32(b, 303),
    opkId: f & 16 ? getU32(b, 307) : 0, pending: Boolean(f & 8), skipped,
  };
}

export function seal(storageKey, s) {
  const nonce = random(24);
  return concat(u8(1), nonce, sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(serialize(s), AD, null, nonce, storageKey));
}

export function unseal(storageKey, sealed) {
  if (sealed.length < 25 || sealed[0] !== 1) return fail();
  let state;
  try {
    state = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.subarray(25), AD, sealed.subarray(1, 25), storageKey);
  } catch { return fail(); }
  return deserialize(state);
}
