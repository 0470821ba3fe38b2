// SPDX-License-Identifier: MPL-2.0
// Replays spec/vectors/protocol.json: every valid frame decodes to its JSON form (and canonical
// ones re-encode byte for byte); every invalid frame fails with its wire error, and an error about
// it carries the vector's request id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, errorRequestId } from '../src/protocol/codec.js';
import { errcode } from '../src/protocol/errors.js';
import { T } from '../src/protocol/schema.js';
import { slugValid } from '../src/protocol/slug.js';
import { fromHex, toHex, vectors, plain, typed } from './hex.js';

const v = vectors('protocol');

test('frame type numbers match the vectors', () => {
  for (const [name, num] of Object.entries(v.types)) assert.equal(T[name], num, name);
});

for (const c of v.valid) {
  test(`valid: ${c.name}`, () => {
    const f = decode(fromHex(c.hex));
    assert.deepEqual({ type: f.type, request_id: f.rid, body: plain(f.body) }, c.frame);
    if (c.canonical) {
      assert.equal(toHex(encode(c.frame.type, c.frame.request_id, typed(c.frame.body, f.body))), c.hex);
    }
  });
}

for (const c of v.invalid) {
  test(`invalid: ${c.name} -> ${c.error}`, () => {
    assert.throws(() => decode(fromHex(c.hex)), (e) => {
      assert.equal(e.code, c.error);
      assert.equal(errcode(e.code), c.code);
      return true;
    });
    assert.equal(errorRequestId(fromHex(c.hex)), c.rid, 'request id of the error (§3.4)');
  });
}

test('tenant and unit ids: the slug rule of spec/protocol.md §1', () => {
  for (const s of ['varde', 'jobcenter', 'a', '0-9', 'a'.repeat(32)]) assert.ok(slugValid(s), s);
  for (const s of ['', '-a', 'Varde', 'va_rde', 'a.b', 'a/b', 'æ', 'a'.repeat(33), null]) assert.ok(!slugValid(s), s);
});
