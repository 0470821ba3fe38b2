// SPDX-License-Identifier: MPL-2.0
// Replays the nonce vectors of spec/vectors/identity.json; consent record round trip.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ready } from '../src/crypto/sodium.js';
import { nonceInput, registrationNonce } from '../src/identity/nonce.js';
import { pkcePair } from '../src/identity/pkce.js';
import { encodeRecord, decodeRecord, signRecord, signedBytes, GRANT, SIGN_DOMAIN } from '../src/identity/consent_record.js';
import { identityFromSeed, verify } from '../src/crypto/keys.js';
import { fromHex, toHex, vectors } from './hex.js';

before(async () => { await ready; });

test('registration nonce vectors', () => {
  const v = vectors('identity');
  for (const n of v.nonce) {
    const ik = fromHex(n.identity_public_key), c = fromHex(n.relay_challenge);
    assert.equal(toHex(nonceInput(n.issuer, ik, c)), n.hashed_input);
    assert.equal(registrationNonce(n.issuer, ik, c), n.nonce);
  }
});

test('PKCE challenge is 43 characters of base64url', () => {
  const p = pkcePair();
  assert.match(p.challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.match(p.verifier, /^[A-Za-z0-9_-]{43}$/);
});

test('consent record layout and signature', () => {
  const ik = identityFromSeed(new Uint8Array(32).fill(7));
  const r = { kind: GRANT, account: new Uint8Array(16).fill(1), device: new Uint8Array(16).fill(2), tenant: 'varde', unit: '', textVersion: '2026-11', textSha256: new Uint8Array(32).fill(3), language: 'da', time: 1767225600000 };
  const rec = encodeRecord(r);
  assert.equal(rec.length, 1 + 1 + 16 + 16 + 6 + 1 + 22 + 8 + 32 + 3 + 16 + 8);
  assert.equal(toHex(rec.slice(0, 2)), '0101');
  const d = decodeRecord(rec);
  assert.equal(d.tenant, 'varde');
  assert.equal(d.purpose, 'digital-kommunikation');
  assert.equal(d.time, r.time);
  assert.ok(verify(ik.pk, signedBytes(rec), signRecord(ik.sk, rec)));
});

test('consent record vectors: exact bytes and signature', () => {
  const v = vectors('consent');
  assert.equal(SIGN_DOMAIN, v.sign_domain);
  const ik = identityFromSeed(fromHex(v.signing_seed));
  assert.equal(toHex(ik.pk), v.identity_public_key);
  for (const r of v.records) {
    const rec = encodeRecord({ kind: r.kind, account: fromHex(r.account), device: fromHex(r.device), tenant: r.tenant, unit: r.unit, purpose: r.purpose, textVersion: r.text_version, textSha256: fromHex(r.text_sha256), language: r.language, clientVersion: r.client_version, time: r.time });
    assert.equal(toHex(rec), r.record, r.name);
    assert.equal(toHex(signRecord(ik.sk, rec)), r.signature, r.name);
    assert.equal(decodeRecord(rec).tenant, r.tenant);
  }
});
