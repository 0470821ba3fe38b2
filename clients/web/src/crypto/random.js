// SPDX-License-Identifier: MPL-2.0
// Every random byte this client draws goes through `random` (spec/crypto.md §16), so tests can
// inject the vectors' bytes. Production draws from libsodium's generator.
import { sodium } from './sodium.js';

let source = (n) => sodium.randombytes_buf(n);

export function random(n) { return source(n); }

/** Test hook: replay the given bytes in order; throws when they run out. */
export function replayRandom(bytes) {
  let pos = 0;
  source = (n) => {
    if (pos + n > bytes.length) throw new Error('injected randomness exhausted');
    const out = bytes.slice(pos, pos + n);
    pos += n;
    return out;
  };
}

export function systemRandom() { source = (n) => sodium.randombytes_buf(n); }
