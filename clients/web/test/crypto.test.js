// SPDX-License-Identifier: MPL-2.0
// Replays spec/vectors/crypto.json with the vectors' randomness injected.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ready } from '../src/crypto/sodium.js';
import { replayRandom, systemRandom } from '../src/crypto/random.js';
import { identityFromSeed, edToXPublic, edToXSecret, signedPrekeyGenerate, oneTimePrekeysGenerate, signedPrekeyVerify } from '../src/crypto/keys.js';
import { hkdf } from '../src/crypto/kdf.js';
import { initiate, respond } from '../src/crypto/x3dh.js';
import { encrypt, decrypt, associatedData } from '../src/crypto/ratchet.js';
import { seal, unseal, serialize } from '../src/crypto/seal.js';
import { encodeContent, decodeContent } from '../src/crypto/content.js';
import { pad } from '../src/crypto/padding.js';
import { fanout } from '../src/crypto/fanout.js';
import { decryptAttachment, encryptAttachment, encodeDescriptor, decodeDescriptor } from '../src/crypto/attachment.js';
import { safetyNumber } from '../src/crypto/safety.js';
import { fromHex, toHex, vectors } from './hex.js';

const v = vectors('crypto');
before(async () => { await ready; });

const identities = () => Object.fromEntries(v.identities.map((i) => [i.name, identityFromSeed(fromHex(i.seed))]));

test('identities: Ed25519 and X25519 forms', () => {
  for (const i of v.identities) {
    const k = identityFromSeed(fromHex(i.seed));
    assert.equal(toHex(k.pk), i.ed25519_public);
    assert.equal(toHex(k.sk), i.ed25519_secret);
    assert.equal(toHex(edToXPublic(k.pk)), i.x25519_public);
    assert.equal(toHex(edToXSecret(k.sk)), i.x25519_secret);
  }
});

test('signed and one-time prekeys', () => {
  const ids = identities();
  for (const s of v.signed_prekeys) {
    replayRandom(fromHex(s.random));
    const spk = signedPrekeyGenerate(ids[s.owner], s.id, s.created_ms);
    assert.equal(toHex(spk.pub), s.public);
    assert.equal(toHex(spk.sig), s.signature);
    assert.ok(signedPrekeyVerify(ids[s.owner].pk, spk));
    assert.ok(!signedPrekeyVerify(ids[s.owner].pk, { ...spk, time: spk.time + 1 }));
  }
  for (const o of v.one_time_prekeys) {
    replayRandom(fromHex(o.random));
    assert.equal(toHex(oneTimePrekeysGenerate(o.id, 1)[0].pub), o.public);
  }
  systemRandom();
});

// Private prekeys of every party, rebuilt from the vectors' randomness.
function prekeyStore() {
  const ids = identities();
  const spks = {}, opks = {};
  for (const s of v.signed_prekeys) {
    replayRandom(fromHex(s.random));
    (spks[s.owner] ??= {})[s.id] = signedPrekeyGenerate(ids[s.owner], s.id, s.created_ms);
  }
  for (const o of v.one_time_prekeys) {
    replayRandom(fromHex(o.random));
    (opks[o.owner] ??= {})[o.id] = oneTimePrekeysGenerate(o.id, 1)[0];
  }
  systemRandom();
  return { ids, spks, opks };
}

function bundleOf(st, owner, spkId, opkId) {
  const spk = st.spks[owner][spkId];
  return { ik: st.ids[owner].pk, spk: { id: spk.id, pub: spk.pub, time: spk.time, sig: spk.sig }, opk: opkId ? { id: opkId, pub: st.opks[owner][opkId].pub } : undefined };
}

test('X3DH: initiator values and responder agreement', () => {
  const st = prekeyStore();
  for (const x of v.x3dh) {
    replayRandom(fromHex(x.random));
    const s = initiate(st.ids[x.initiator], bundleOf(st, x.responder, x.signed_prekey_id, x.one_time_prekey_id));
    assert.equal(toHex(s.ek), x.ephemeral_public);
    assert.equal(toHex(associatedData(s)), x.associated_data);
    assert.equal(toHex(s.dhs.pk), x.initiator_ratchet_public);
    assert.equal(toHex(s.rk), x.root_key);
    assert.equal(toHex(s.cks), x.sending_chain_key);
  }
  systemRandom();
});

for (const run of v.runs) {
  test(`run: ${run.name}`, () => {
    const st = prekeyStore();
    const sessions = {};
    const key = (a, b) => `${a}>${b}`;
    for (const [i, step] of run.steps.entries()) {
      const where = `step ${i} ${step.op}`;
      replayRandom(fromHex(step.random ?? ''));
      if (step.op === 'initiate') {
        sessions[key(step.party, step.peer)] = initiate(st.ids[step.party], bundleOf(st, step.peer, step.signed_prekey_id, step.one_time_prekey_id));
      } else if (step.op === 'encrypt') {
        const [s, env] = encrypt(sessions[key(step.party, step.peer)], fromHex(step.plaintext));
        sessions[key(step.party, step.peer)] = s;
        assert.equal(toHex(env), step.envelope, where);
      } else if (step.op === 'respond') {
        const r = respond(st.ids[step.party], fromHex(step.envelope), (id) => st.spks[step.party][id] ?? null, (id) => st.opks[step.party]?.[id] ?? null);
        sessions[key(step.party, step.peer)] = r.session;
        if (r.opkId) delete st.opks[step.party][r.opkId];
        assert.equal(toHex(r.plaintext), step.plaintext, where);
      } else if (step.op === 'decrypt') {
        const k = key(step.party, step.peer);
        if (step.error) {
          const before = toHex(serialize(sessions[k]));
          assert.throws(() => decrypt(sessions[k], fromHex(step.envelope)), (e) => e.kind === step.error, where);
          assert.equal(toHex(serialize(sessions[k])), before, 'a failure changes nothing');
        } else {
          const [s, pt] = decrypt(sessions[k], fromHex(step.envelope));
          sessions[k] = s;
          assert.equal(toHex(pt), step.plaintext, where);
        }
      } else if (step.op === 'seal') {
        const k = key(step.party, step.peer);
        const sealed = seal(fromHex(step.storage_key), sessions[k]);
        assert.equal(toHex(sealed), step.sealed, where);
        assert.equal(toHex(serialize(unseal(fromHex(step.storage_key), sealed))), toHex(serialize(sessions[k])));
        const bad = sealed.slice(); bad[30] ^= 1;
        assert.throws(() => unseal(fromHex(step.storage_key), bad));
      } else if (step.op === 'fanout') {
        const c = step.content;
        const content = { kind: c.kind, messageId: fromHex(c.message_id), conversationId: fromHex(c.conversation_id), sentMs: c.sent_ms, senderAccount: fromHex(c.sender_account), senderDevice: fromHex(c.sender_device), body: fromHex(c.body) };
        const out = fanout(step.peers.map((p) => sessions[key(step.party, p)]), content);
        assert.deepEqual(out.envelopes.map(toHex), step.envelopes, where);
      } else {
        assert.fail(`unknown op ${step.op}`);
      }
    }
    systemRandom();
  });
}

test('content records and padding', () => {
  for (const c of v.content) {
    const rec = { kind: c.kind, messageId: fromHex(c.message_id), conversationId: fromHex(c.conversation_id), sentMs: c.sent_ms, senderAccount: fromHex(c.sender_account), senderDevice: fromHex(c.sender_device), body: fromHex(c.body) };
    const enc = encodeContent(rec);
    assert.equal(toHex(enc), c.encoded);
    assert.equal(toHex(pad(enc)), c.padded);
    assert.deepEqual(decodeContent(enc), { version: 1, ...rec });
  }
});

test('attachments: descriptor, digest and decryption of the vector ciphertext', () => {
  for (const a of v.attachments) {
    const size = Number(a.size);
    const d = { key: fromHex(a.key), digest: fromHex(a.digest), size, mediaType: a.media_type, fileName: a.file_name };
    assert.equal(toHex(encodeDescriptor(d)), a.descriptor);
    assert.deepEqual(decodeDescriptor(fromHex(a.descriptor)), d);
    assert.equal(a.random.slice(0, 64), a.key);
    if (!a.ciphertext) continue;
    const ct = fromHex(a.ciphertext);
    assert.equal(ct.length, Number(a.ciphertext_size));
    const pt = decryptAttachment(d.key, d.digest, size, ct);
    assert.ok(pt.every((b, i) => b === i % 251));
    const bad = ct.slice(); bad[100] ^= 1;
    assert.throws(() => decryptAttachment(d.key, d.digest, size, bad));
  }
  const plain = Uint8Array.from({ length: 70000 }, (_, i) => i % 7);
  const e = encryptAttachment(plain);
  assert.deepEqual(decryptAttachment(e.key, e.digest, e.size, e.ciphertext), plain);
});

test('safety numbers', () => {
  for (const s of v.safety_numbers) {
    assert.equal(safetyNumber(fromHex(s.key_a), fromHex(s.key_b)), s.safety_number);
    assert.equal(safetyNumber(fromHex(s.key_b), fromHex(s.key_a)), s.safety_number);
  }
});

test('HKDF: RFC 5869 test case 3 (empty salt and info)', () => {
  const okm = hkdf(null, fromHex('0b'.repeat(22)), new Uint8Array(0), 42);
  assert.equal(toHex(okm), '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
});

test('mutated prekey envelopes fail only with the crypto errors, and never open', () => {
  const st = prekeyStore();
  const first = v.runs[0].steps.find((s) => s.op === 'respond');
  const env = fromHex(first.envelope);
  let x = 7;
  const r = (n) => { x = (x * 1103515245 + 12345) >>> 0; return x % n; };
  for (let i = 0; i < 400; i++) {
    const b = env.slice();
    const at = r(b.length);
    b[at] ^= 1 + r(255);
    replayRandom(new Uint8Array(64));
    assert.throws(() => respond(st.ids.bob, b, (id) => st.spks.bob[id] ?? null, (id) => st.opks.bob?.[id] ?? null),
      (e) => e.name === 'CryptoError', `byte ${at}`);
  }
  systemRandom();
});
