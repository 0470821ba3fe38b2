// SPDX-License-Identifier: MPL-2.0
// PKCE S256 (RFC 7636): a 32-byte verifier, its SHA-256 challenge, and a state value.
import { sodium } from '../crypto/sodium.js';
import { random } from '../crypto/random.js';
import { b64url } from './nonce.js';

export function pkcePair() {
  const verifier = b64url(random(32));
  return { verifier, challenge: b64url(sodium.crypto_hash_sha256(new TextEncoder().encode(verifier))) };
}

export const newState = () => b64url(random(16));
