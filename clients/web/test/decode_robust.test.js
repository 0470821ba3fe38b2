// SPDX-License-Identifier: MPL-2.0
// Mutated and truncated frames: the decoder either accepts or fails with a protocol error, never
// with any other exception. A fixed seed keeps the run reproducible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../src/protocol/codec.js';
import { ProtoError } from '../src/protocol/errors.js';
import { fromHex, vectors } from './hex.js';

function rng(seed) {
  let x = seed >>> 0;
  return (n) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
}

test('mutated vectors fail only with protocol errors', () => {
  const r = rng(20261126);
  const v = vectors('protocol');
  let accepted = 0, refused = 0;
  for (const c of v.valid) {
    const base = fromHex(c.hex);
    for (let i = 0; i < 300; i++) {
      let b = base.slice();
      const op = r(3);
      if (op === 0) b[r(b.length)] = r(256);
      else if (op === 1) b = b.subarray(0, r(b.length));
      else { const at = r(b.length); b = Uint8Array.from([...b.subarray(0, at), r(256), ...b.subarray(at)]); }
      try { decode(b); accepted++; } catch (e) {
        assert.ok(e instanceof ProtoError, `${c.name}: ${e}`);
        refused++;
      }
    }
  }
  assert.ok(accepted > 0 && refused > 0);
});
