// SPDX-License-Identifier: MPL-2.0
// This browser's device: identity key, signed prekey, one-time prekeys, the storage key that
// seals sessions, and the frames that register and authenticate it.
import { random } from '../crypto/random.js';
import { ascii, concat } from '../crypto/bytes.js';
import { deviceLabel } from './label.js';
import { identityGenerate, oneTimePrekeysGenerate, sign, signedPrekeyGenerate } from '../crypto/keys.js';

// One-time prekeys uploaded at registration and per top-up (protocol limit 100 per frame).
export const PREKEY_BATCH = 50;

export function newDeviceKeys() {
  const ik = identityGenerate();
  const spk = signedPrekeyGenerate(ik, 1, Date.now());
  const opks = oneTimePrekeysGenerate(1, PREKEY_BATCH);
  return { ik, spk, opks, storageKey: random(32), nextOpkId: PREKEY_BATCH + 1 };
}

export const publicSpk = (s) => ({ id: s.id, pub: s.pub, time: s.time, sig: s.sig });
export const publicOpks = (list) => list.map((o) => ({ id: o.id, pub: o.pub }));

export function registerBody(keys, idToken, label) {
  return { att: idToken, ik: keys.ik.pk, spk: publicSpk(keys.spk), opk: publicOpks(keys.opks), label };
}

const AUTH = concat(ascii('wakks.v1 auth'), Uint8Array.of(0));
/** The 62-byte AuthMessage of spec/protocol.md §4.2, signed. */
export const authBody = (ik, chal, dev) => ({ dev, sig: sign(ik.sk, concat(AUTH, chal, dev)) });

/** This browser's label in device lists ("Firefox på Windows"). */
export function browserLabel() {
  return deviceLabel(navigator.userAgent, navigator.userAgentData?.platform);
}
