// SPDX-License-Identifier: MPL-2.0
// Device identity (Ed25519, used for DH in its X25519 form) and prekeys (spec/crypto.md §5-§6).
import { sodium } from './sodium.js';
import { random } from './random.js';
import { ascii, concat, u32, u64 } from './bytes.js';
import { fail } from './errors.js';

export function identityFromSeed(seed) {
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { pk: kp.publicKey, sk: kp.privateKey };
}
export const identityGenerate = () => identityFromSeed(random(32));

export const edToXPublic = (pk) => {
  try { return sodium.crypto_sign_ed25519_pk_to_curve25519(pk); } catch { return fail(); }
};
export const edToXSecret = (sk) => sodium.crypto_sign_ed25519_sk_to_curve25519(sk);
export const x25519Base = (sk) => sodium.crypto_scalarmult_base(sk);
export function dh(sk, pk) {
  // libsodium refuses an all-zero result; so does the spec.
  try { return sodium.crypto_scalarmult(sk, pk); } catch { return fail(); }
}

const SPK_PREFIX = ascii('wakks/v1/signed-prekey');
export const signedPrekeyMessage = (id, pub, created) => concat(SPK_PREFIX, u32(id), pub, u64(created));

export function signedPrekeyGenerate(ik, id, created) {
  const sk = random(32);
  const pub = x25519Base(sk);
  const sig = sodium.crypto_sign_detached(signedPrekeyMessage(id, pub, created), ik.sk);
  return { id, sk, pub, time: created, sig };
}

export function signedPrekeyVerify(ikPub, spk) {
  try {
    return sodium.crypto_sign_verify_detached(spk.sig, signedPrekeyMessage(spk.id, spk.pub, spk.time), ikPub);
  } catch { return false; }
}

export function oneTimePrekeysGenerate(firstId, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const sk = random(32);
    out.push({ id: firstId + i, sk, pub: x25519Base(sk) });
  }
  return out;
}

export const sign = (sk, msg) => sodium.crypto_sign_detached(msg, sk);
export const verify = (pk, msg, sig) => {
  try { return sodium.crypto_sign_verify_detached(sig, msg, pk); } catch { return false; }
};
