// SPDX-License-Identifier: MPL-2.0
// Client message ids (spec/protocol.md §8.1): the vectors of spec/vectors/client.json, and one
// generator's ids increasing whatever its clock does, with the clock's millisecond when it moved
// on and a new random part every time.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ready } from '../src/crypto/sodium.js';
import { cmidGenerator, cmidNext, cmidTime, newCmid } from '../src/protocol/cmid.js';
import { fromHex, toHex, vectors } from './hex.js';

const v = vectors('client');
before(async () => { await ready; });

const less = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;

test('client message ids: the vectors, step by step', () => {
  assert.ok(v.cmids.length >= 8);
  for (const c of v.cmids) {
    const id = cmidNext(c.last === null ? null : fromHex(c.last), c.now_ms, fromHex(c.random));
    assert.equal(toHex(id), c.cmid, c.name);
  }
});

test('client message ids increase under a repeating and a backward clock', () => {
  // A burst in one millisecond, the clock stepped back a second, then on again.
  const clock = [1767225600123, 1767225600123, 1767225600123, 1767225600124, 1767225599124,
    1767225599124, 1767225600124, 1767225600125, 1767225700000];
  const next = cmidGenerator();
  let prev = new Uint8Array(16), high = 0;
  for (const now of clock) {
    const id = next(now);
    assert.ok(less(prev, id), `after ${toHex(prev)}: ${toHex(id)}`);
    if (now > high) { assert.equal(cmidTime(id), now); high = now; }
    else {
      assert.equal(cmidTime(id), cmidTime(prev));
      assert.notEqual(toHex(id.subarray(6)), toHex(prev.subarray(6)));
    }
    prev = id;
  }
});

test('client message ids: many in one millisecond stay ordered; generators are independent', () => {
  const next = cmidGenerator();
  let prev = next(1767225600123);
  for (let i = 0; i < 20000; i++) {
    const id = next(1767225600123);
    assert.ok(less(prev, id));
    prev = id;
  }
  assert.ok(cmidTime(prev) - 1767225600123 <= 1);
  const a = newCmid(Date.now()), b = newCmid(Date.now());
  assert.ok(less(a, b));
  assert.notEqual(toHex(a.subarray(6)), toHex(b.subarray(6)));
  const other = cmidGenerator()(Date.now());
  assert.notEqual(toHex(other), toHex(a));
});
