// SPDX-License-Identifier: MPL-2.0
// The Double Ratchet (spec/crypto.md §8). A session is a plain object; decrypt works on a copy and
// returns the new session only when the AEAD accepted the message.
import { sodium } from './sodium.js';
import { random } from './random.js';
import { concat, equal } from './bytes.js';
import { fail, GAP, LIMIT } from './errors.js';
import { kdfCk, kdfRk, messageKeys } from './kdf.js';
import { dh, x25519Base } from './keys.js';
import { buildPrefix, parse } from './envelope.js';
import { MAX_PLAINTEXT, pad, unpad } from './padding.js';

export const MAX_SKIP = 1000;
export const MAX_SKIPPED_KEYS = 2000;
const LAST_N = 0xfffffffe;

export const INITIATOR = 1;
export const RESPONDER = 2;

export function generateDh() { const sk = random(32); return { sk, pk: x25519Base(sk) }; }

export function associatedData(s) {
  return s.role === INITIATOR ? concat(s.ikLocal, s.ikRemote) : concat(s.ikRemote, s.ikLocal);
}

export function initAlice(sk, spkPub, base) {
  const dhs = generateDh();
  const [rk, cks] = kdfRk(sk, dh(dhs.sk, spkPub));
  return { ...base, role: INITIATOR, rk, dhs, dhr: spkPub, cks, ckr: null, ns: 0, nr: 0, pn: 0, skipped: [], pending: true };
}

export function initBob(sk, spk, base) {
  return { ...base, role: RESPONDER, rk: sk, dhs: { sk: spk.sk, pk: spk.pub }, dhr: null, cks: null, ckr: null, ns: 0, nr: 0, pn: 0, skipped: [], pending: false };
}

function seal(mk, plaintext, ad) {
  const [key, nonce] = messageKeys(mk);
  return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pad(plaintext), ad, null, nonce, key);
}

function open(mk, body, ad) {
  const [key, nonce] = messageKeys(mk);
  let padded;
  try { padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, body, ad, nonce, key); } catch { return fail(); }
  return unpad(padded);
}

export function prekeyPart(s) {
  return { ik: s.role === INITIATOR ? s.ikLocal : s.ikRemote, ek: s.ek, spkId: s.spkId, opkId: s.opkId };
}

/** Returns [newSession, envelope]. Draws no randomness. */
export function encrypt(s, plaintext) {
  if (plaintext.length > MAX_PLAINTEXT) fail(LIMIT);
  if (!s.cks || s.ns >= LAST_N) fail();
  const [cks, mk] = kdfCk(s.cks);
  const prefix = buildPrefix({ pending: s.pending, prekey: s.pending ? prekeyPart(s) : null, dh: s.dhs.pk, pn: s.pn, n: s.ns });
  const body = seal(mk, plaintext, concat(associatedData(s), prefix));
  return [{ ...s, cks, ns: s.ns + 1 }, concat(prefix, body)];
}

/** True if a prekey envelope's prekey part belongs to this (responder) session (§7.3). */
export function prekeyMatches(s, p) {
  return s.role === RESPONDER && equal(p.ek, s.ek) && equal(p.ik, s.ikRemote) &&
    p.spkId === s.spkId && p.opkId === (s.opkId || 0) && p.opk === Boolean(s.opkId);
}

function skip(S, until, fresh) {
  if (S.nr + MAX_SKIP < until) fail(GAP);
  if (!S.ckr) return;
  while (S.nr < until) {
    const [ckr, mk] = kdfCk(S.ckr);
    fresh.push({ dh: S.dhr, n: S.nr, mk });
    S.ckr = ckr;
    S.nr += 1;
  }
}

/** Returns [newSession, plaintext]; the given session is never changed. */
export function decrypt(s, envelope, parsed = parse(envelope)) {
  const h = parsed;
  if (h.prekey && !prekeyMatches(s, h.prekey)) fail();
  const ad = concat(associatedData(s), h.prefix);
  const i = s.skipped.findIndex((k) => k.n === h.n && equal(k.dh, h.dh));
  if (i >= 0) {
    const pt = open(s.skipped[i].mk, h.body, ad);
    return [{ ...s, skipped: s.skipped.filter((_, j) => j !== i), pending: false }, pt];
  }
  const S = { ...s };
  const fresh = [];
  if (!S.dhr || !equal(h.dh, S.dhr)) {
    skip(S, h.pn, fresh);
    S.pn = S.ns; S.ns = 0; S.nr = 0; S.dhr = h.dh;
    [S.rk, S.ckr] = kdfRk(S.rk, dh(S.dhs.sk, S.dhr));
    S.dhs = generateDh();
    [S.rk, S.cks] = kdfRk(S.rk, dh(S.dhs.sk, S.dhr));
  }
  skip(S, h.n, fresh);
  if (!S.ckr || h.n < S.nr) fail();
  const [ckr, mk] = kdfCk(S.ckr);
  S.ckr = ckr;
  S.nr += 1;
  const pt = open(mk, h.body, ad);
  let skipped = s.skipped.concat(fresh);
  if (skipped.length > MAX_SKIPPED_KEYS) skipped = skipped.slice(skipped.length - MAX_SKIPPED_KEYS);
  return [{ ...S, skipped, pending: false }, pt];
}

