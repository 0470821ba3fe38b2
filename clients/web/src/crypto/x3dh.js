// SPDX-License-Identifier: MPL-2.0
// Session setup (spec/crypto.md §7): the initiator from a verified bundle, the responder from a
// prekey envelope.
import { random } from './random.js';
import { ascii, concat } from './bytes.js';
import { fail } from './errors.js';
import { hkdf } from './kdf.js';
import { dh, edToXPublic, edToXSecret, signedPrekeyVerify, x25519Base } from './keys.js';
import { decrypt, initAlice, initBob } from './ratchet.js';
import { parse, PREKEY } from './envelope.js';

const INFO = ascii('wakks/v1/x3dh');
const FF = new Uint8Array(32).fill(0xff);

const secret = (...dhs) => hkdf(null, concat(FF, ...dhs), INFO, 32);

/** bundle: { ik, spk: {id, pub, time, sig}, opk?: {id, pub} }. Returns a new initiator session. */
export function initiate(ik, bundle) {
  if (!signedPrekeyVerify(bundle.ik, bundle.spk)) fail();
  const ikx = edToXPublic(bundle.ik);
  const ekSk = random(32);
  const ek = x25519Base(ekSk);
  const parts = [dh(edToXSecret(ik.sk), bundle.spk.pub), dh(ekSk, ikx), dh(ekSk, bundle.spk.pub)];
  if (bundle.opk) parts.push(dh(ekSk, bundle.opk.pub));
  const sk = secret(...parts);
  return initAlice(sk, bundle.spk.pub, {
    ikLocal: ik.pk, ikRemote: bundle.ik, ek, spkId: bundle.spk.id, opkId: bundle.opk ? bundle.opk.id : 0,
  });
}

/** Opens a new responder session from a prekey envelope. `findSpk(id)` and `findOpk(id)` return
 * the device's private prekeys or null. Returns { session, plaintext, opkId }; the caller deletes
 * the one-time prekey only after persisting the session. */
export function respond(ik, envelope, findSpk, findOpk) {
  const h = parse(envelope);
  if (h.type !== PREKEY) fail();
  const p = h.prekey;
  const spk = findSpk(p.spkId);
  if (!spk) fail();
  const opk = p.opk ? findOpk(p.opkId) : null;
  if (p.opk && !opk) fail();
  const ikx = edToXPublic(p.ik);
  const parts = [dh(spk.sk, ikx), dh(edToXSecret(ik.sk), p.ek), dh(spk.sk, p.ek)];
  if (opk) parts.push(dh(opk.sk, p.ek));
  const sk = secret(...parts);
  const s = initBob(sk, spk, { ikLocal: ik.pk, ikRemote: p.ik, ek: p.ek, spkId: p.spkId, opkId: p.opk ? p.opkId : 0 });
  const [session, plaintext] = decrypt(s, envelope, h);
  return { session, plaintext, opkId: p.opk ? p.opkId : 0, peerIk: p.ik };
}

