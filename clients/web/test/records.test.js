// SPDX-License-Identifier: MPL-2.0
// Replays spec/vectors/client.json: content records v2 with the thread reference, notices,
// receipts, presentations, history and CPR masking; thread state and journal status from
// notices; and the
// verification of a presentation against a provider key made here.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ready } from '../src/crypto/sodium.js';
import { decodeContent, encodeContent, threadId } from '../src/crypto/content.js';
import { decodeHistory, decodeNotice, decodePresentation, decodeReceipt, encodeHistory, encodeNotice, encodePresentation, encodeReceipt, maskCpr } from '../src/app/records.js';
import { JOURNAL_LABEL, journalStatus, storedNotice, threadState } from '../src/app/threadstate.js';
import { registrationNonce } from '../src/identity/nonce.js';
import { cprValid, verifyPresentation } from '../src/identity/presentation.js';
import { fromHex, toHex, vectors } from './hex.js';

const v = vectors('client');
before(async () => { await ready; });

test('thread ids', () => {
  for (const t of v.thread_ids) assert.equal(toHex(threadId(fromHex(t.citizen), t.tenant, t.unit)), t.thread_id);
});

test('content records v2 encode byte for byte and decode to their fields', () => {
  for (const c of v.content_v2) {
    const rec = {
      kind: c.kind, messageId: fromHex(c.message_id), conversationId: fromHex(c.conversation_id), sentMs: c.sent_ms,
      senderAccount: fromHex(c.sender_account), senderDevice: fromHex(c.sender_device),
      citizenAccount: fromHex(c.citizen_account), tenant: c.tenant, unit: c.unit, body: fromHex(c.body),
    };
    assert.equal(toHex(encodeContent(rec)), c.encoded, c.name);
    const d = decodeContent(fromHex(c.encoded));
    assert.equal(d.version, 2);
    assert.equal(d.kind, c.kind);
    assert.equal(d.tenant, c.tenant);
    assert.equal(d.unit, c.unit);
    assert.equal(d.citizenAccount ? toHex(d.citizenAccount) : '00'.repeat(16), c.citizen_account);
    assert.equal(toHex(d.body), c.body);
  }
});

test('notices, receipts, presentations and history round-trip', () => {
  for (const n of v.notices) {
    const d = decodeNotice(fromHex(n.encoded));
    assert.equal(d.type, n.type);
    assert.equal(d.name, n.name);
    assert.equal(d.note, n.note);
    assert.equal(toHex(encodeNotice({ type: n.type, ref: fromHex(n.ref), account: fromHex(n.account), state: n.state, note: n.note })), n.encoded, n.name);
  }
  for (const r of v.receipts) {
    const d = decodeReceipt(fromHex(r.encoded));
    assert.equal(d.readMs, r.read_ms);
    assert.deepEqual(d.messageIds.map(toHex), r.message_ids);
    assert.equal(toHex(encodeReceipt({ readMs: r.read_ms, messageIds: r.message_ids.map(fromHex) })), r.encoded);
  }
  for (const p of v.presentations) {
    const d = decodePresentation(fromHex(p.encoded));
    assert.equal(d.issuer, p.issuer);
    assert.equal(d.token, p.token);
    assert.equal(toHex(d.challenge), p.challenge);
    assert.equal(toHex(encodePresentation(d)), p.encoded);
    assert.equal(registrationNonce(p.issuer, fromHex(p.sender_identity_key), d.challenge), p.nonce);
  }
  for (const hst of v.history) {
    const d = decodeHistory(fromHex(hst.encoded));
    assert.equal(d.length, hst.entries.length);
    d.forEach((e, i) => {
      assert.equal(e.storedMs, hst.entries[i].stored_ms);
      assert.equal(toHex(e.record), hst.entries[i].record);
      decodeContent(e.record);
    });
    assert.equal(toHex(encodeHistory(d)), hst.encoded);
  }
  for (const c of v.cpr_masking) assert.equal(maskCpr(c.cpr), c.masked);
});

test('every invalid record is refused', () => {
  const dec = { content: decodeContent, receipt: decodeReceipt, notice: decodeNotice, presentation: decodePresentation, history: decodeHistory };
  for (const x of v.invalid) assert.throws(() => dec[x.what](fromHex(x.encoded)), undefined, `${x.what}: ${x.why}`);
});

test('thread state follows the notices and the citizen in history order', () => {
  const A = 'a'.repeat(32), B = 'b'.repeat(32);
  const take = { notice: { name: 'take' }, sender: A };
  const hand = { notice: { name: 'handover', account: B, note: 'Se sagen' }, sender: A };
  assert.deepEqual(threadState([]), { state: 'open', assignee: null, handover: null });
  assert.equal(threadState([take]).assignee, A);
  const s = threadState([take, hand, { notice: { name: 'answered' }, sender: B }]);
  assert.deepEqual(s, { state: 'answered', assignee: B, handover: { from: A, to: B, note: 'Se sagen' } });
  // the citizen writing again reopens; the assignee stays
  assert.deepEqual(threadState([take, { notice: { name: 'closed' }, sender: A }, { citizen: true }]), { state: 'open', assignee: A, handover: null });
  assert.equal(threadState([take, { citizen: true }, { notice: { name: 'closed' }, sender: A }]).state, 'closed');
  assert.equal(threadState([{ notice: { name: 'closed' }, sender: A }, { notice: { name: 'reopened' }, sender: A }]).state, 'open');
});

test('journal status: the latest journal_status notice per message, from the notice on the wire', () => {
  const M1 = new Uint8Array(16).fill(1), M2 = new Uint8Array(16).fill(2), M3 = new Uint8Array(16).fill(3);
  // As a device receives it: encoded by the journal device, decoded strictly, kept with ids as hex.
  const wire = (ref, state, note = '') => ({ notice: storedNotice(decodeNotice(encodeNotice({ type: 7, ref, state, note }))) });
  const msg = (id) => ({ id: toHex(id), text: 'x' });
  const j = journalStatus([msg(M1), msg(M2), msg(M3), wire(M1, 1), wire(M2, 2, 'Sagen findes ikke'), { notice: { name: 'take' } }, wire(M3, 2, 'Tidsudløb'), wire(M3, 1)]);
  assert.deepEqual(j.get(toHex(M1)), { state: 'journalised', reason: '' });
  assert.deepEqual(j.get(toHex(M2)), { state: 'failed', reason: 'Sagen findes ikke' });
  // a retry that succeeded after a failure: the latest in history order counts
  assert.deepEqual(j.get(toHex(M3)), { state: 'journalised', reason: '' });
  assert.equal(journalStatus([wire(M1, 1), wire(M1, 2, 'Afvist')]).get(toHex(M1)).state, 'failed');
  // only journal_status notices with a message reference and a known state say anything
  assert.equal(j.size, 3);
  assert.equal(journalStatus([{ notice: { name: 'seen', ref: toHex(M1) } }, { notice: { name: 'journal_status', ref: toHex(M1), state: 0 } }, { notice: { name: 'journal_status', ref: null, state: 1 } }]).size, 0);
  assert.throws(() => decodeNotice(encodeNotice({ type: 7, ref: M1, state: 3 })), /state/);
  assert.equal(JOURNAL_LABEL.journalised(''), 'Journaliseret');
  assert.equal(JOURNAL_LABEL.failed('Sagen findes ikke'), 'Journalisering mislykkedes: Sagen findes ikke');
  assert.equal(JOURNAL_LABEL.failed(''), 'Journalisering mislykkedes');
});

// A provider key made here: the presentation verifies, and each forgery is named for what it broke.
test('a presentation verifies only with the provider\'s signature, audience and key binding', async () => {
  const ik = new Uint8Array(32).fill(7), otherIk = new Uint8Array(32).fill(8), chal = new Uint8Array(32).fill(9);
  const issuer = 'https://localhost:8443/dev-idp/dev-mitid';
  const mk = async () => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const prov = await mk(), foreign = await mk();
  const jwk = { ...(await crypto.subtle.exportKey('jwk', prov.publicKey)), kid: 'k1', use: 'sig', alg: 'ES256' };
  delete jwk.key_ops; delete jwk.ext;
  const tenant = { citizen_idps: [{ id: 'dev-mitid', issuer, client_id: 'wakks-dev', person_claim: 'dk.cpr', algs: ['RS256', 'ES256'], jwks: { keys: [jwk] } }] };
  const b64 = (b) => Buffer.from(b).toString('base64url');
  const token = async (claims, key = prov.privateKey, kid = 'k1') => {
    const head = b64(JSON.stringify({ alg: 'ES256', kid })), body = b64(JSON.stringify(claims));
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new TextEncoder().encode(`${head}.${body}`));
    return `${head}.${body}.${b64(new Uint8Array(sig))}`;
  };
  const good = { iss: issuer, aud: 'wakks-dev', iat: 1767225600, name: 'Anna Jensen', 'dk.cpr': '0503841234', nonce: registrationNonce(issuer, ik, chal) };
  const check = async (claims, opts = {}) => verifyPresentation({ issuer: opts.issuer ?? issuer, challenge: chal, token: opts.raw ?? await token(claims, opts.key) }, opts.ik ?? ik, 'tenant' in opts ? opts.tenant : tenant);
  const ok = await check(good);
  assert.equal(ok.ok, true);
  assert.equal(ok.name, 'Anna Jensen');
  assert.equal(ok.cpr, '0503841234');
  assert.equal((await check(good, { key: foreign.privateKey })).reason, 'signature');
  assert.equal((await check({ ...good, iss: 'https://evil.example/op' })).reason, 'foreign_provider');
  assert.equal((await check(good, { issuer: 'https://other.example/op' })).reason, 'foreign_provider');
  assert.equal((await check({ ...good, aud: 'other' })).reason, 'audience');
  assert.equal((await check(good, { ik: otherIk })).reason, 'key_binding');
  assert.equal((await check({ ...good, 'dk.cpr': '12' })).reason, 'claims');
  assert.equal((await check(good, { tenant: null })).reason, 'unavailable');
  assert.equal((await check(good, { raw: 'not.a-token' })).reason, 'malformed');
  const t = await token(good);
  const [h, p] = t.split('.');
  assert.equal((await check(good, { raw: `${b64(JSON.stringify({ alg: 'none' }))}.${p}.` })).reason, 'signature');
  assert.equal((await check(good, { raw: `${h}.${b64(JSON.stringify({ ...good, name: 'Bo Nielsen' }))}.${t.split('.')[2]}` })).reason, 'signature');
  assert.ok(cprValid('0503841234') && !cprValid('3213841234'));
});

// The pattern of decode_robust.test.js for the thread records: mutated and truncated vectors are
// either accepted or refused with the codec's own error, never with another exception.
test('mutated thread records fail only with the codecs\' errors', async () => {
  const { RecordError } = await import('../src/app/records.js');
  const { CryptoError } = await import('../src/crypto/errors.js');
  let x = 20261203;
  const r = (n) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
  const sets = [
    [decodeContent, v.content_v2.map((c) => c.encoded), CryptoError],
    [decodeNotice, v.notices.map((c) => c.encoded), RecordError],
    [decodeReceipt, v.receipts.map((c) => c.encoded), RecordError],
    [decodePresentation, v.presentations.map((c) => c.encoded), RecordError],
    [decodeHistory, v.history.map((c) => c.encoded), RecordError],
  ];
  for (const [dec, hexes, Err] of sets) {
    let refused = 0;
    for (const hx of hexes) {
      const base = fromHex(hx);
      for (let i = 0; i < 200; i++) {
        let b = base.slice();
        const op = r(3);
        if (op === 0) b[r(b.length)] = r(256);
        else if (op === 1) b = b.subarray(0, r(b.length));
        else { const at = r(b.length); b = Uint8Array.from([...b.subarray(0, at), r(256), ...b.subarray(at)]); }
        try { dec(b); } catch (e) { assert.ok(e instanceof Err, `${dec.name}: ${e}`); refused++; }
      }
    }
    assert.ok(refused > 0, dec.name);
  }
});
