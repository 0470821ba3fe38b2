// SPDX-License-Identifier: MPL-2.0
// The envelope format checks of spec/crypto.md §9 and the padding rules of §10.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ready } from '../src/crypto/sodium.js';
import { parse } from '../src/crypto/envelope.js';
import { pad, unpad, paddedLength } from '../src/crypto/padding.js';
import { concat, u32 } from '../src/crypto/bytes.js';

before(async () => { await ready; });

const header = (pn = 0, n = 0) => concat(new Uint8Array(32).fill(9), u32(pn), u32(n));
const body = (len) => new Uint8Array(len);
const message = (o = {}) => concat(Uint8Array.of(o.version ?? 1, o.type ?? 2), header(o.pn, o.n), body(o.body ?? 272));
const prekey = (flag, id) => concat(Uint8Array.of(1, 1), new Uint8Array(64), u32(7), Uint8Array.of(flag), u32(id), header(), body(272));
const fails = (b, kind) => assert.throws(() => parse(b), (e) => e.kind === kind);

test('well-formed message and prekey envelopes parse', () => {
  assert.equal(parse(message()).n, 0);
  const p = parse(prekey(1, 5));
  assert.equal(p.prekey.opkId, 5);
  assert.equal(p.prekey.spkId, 7);
  assert.equal(parse(prekey(0, 0)).prekey.opk, false);
});

test('format errors', () => {
  fails(message({ version: 2 }), 'unsupported version');
  fails(message({ type: 3 }), 'format error');
  fails(prekey(2, 0), 'format error');
  fails(prekey(0, 1), 'format error');
  fails(message({ n: 0xffffffff }), 'format error');
  fails(message({ pn: 0xffffffff }), 'format error');
  fails(message({ body: 271 }), 'format error');
  fails(message({ body: paddedLength(65536) + 17 }), 'input exceeds a limit');
  assert.ok(parse(message({ body: paddedLength(65536) + 16 })));
});

test('padding buckets and canonical unpadding', () => {
  assert.equal(pad(new Uint8Array(0)).length, 256);
  assert.equal(pad(new Uint8Array(255)).length, 256);
  assert.equal(pad(new Uint8Array(256)).length, 512);
  assert.equal(pad(new Uint8Array(4095)).length, 4096);
  assert.equal(pad(new Uint8Array(4096)).length, 8192);
  const p = Uint8Array.of(1, 2, 3);
  assert.deepEqual(unpad(pad(p)), p);
  const q = pad(p); q[10] = 1;
  assert.throws(() => unpad(q));
  const wrongBucket = concat(pad(p), new Uint8Array(256));
  assert.throws(() => unpad(wrongBucket));
});
