// SPDX-License-Identifier: MPL-2.0
// The registration nonce (spec/identity.md §3): binds an ID token to one identity key and the
// challenge of one connection.
import { sodium } from '../crypto/sodium.js';
import { ascii, concat, u16 } from '../crypto/bytes.js';

const DOMAIN = concat(ascii('wakks.v1 oidc-nonce'), Uint8Array.of(0));

export function nonceInput(issuer, ik, challenge) {
  const iss = new TextEncoder().encode(issuer);
  return concat(DOMAIN, u16(iss.length), iss, ik, challenge);
}

export function b64url(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
}

export const registrationNonce = (issuer, ik, challenge) =>
  b64url(sodium.crypto_hash_sha256(nonceInput(issuer, ik, challenge)));
