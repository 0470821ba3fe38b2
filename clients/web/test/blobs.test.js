// SPDX-License-Identifier: MPL-2.0
// Attachment transfer against an in-memory relay that follows spec/protocol.md §10 and speaks real
// frames (every request and reply goes through the codec): chunks of at most 256 KiB at the
// relay's `have`, resuming after a dropped connection, and downloads whose size and digest are
// checked before decryption.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ready, sodium } from '../src/crypto/sodium.js';
import { encryptAttachment } from '../src/crypto/attachment.js';
import { decode, encode } from '../src/protocol/codec.js';
import { T } from '../src/protocol/schema.js';
import { BLOB_CHUNK, BlobError, blobId, ciphertextSize, downloadBlob, fetchAttachment, uploadBlob } from '../src/app/blobs.js';
import { toHex } from './hex.js';

before(async () => { await ready; });

const relayError = (code, det = {}) => Object.assign(new Error(code), { code, det });

/** A relay holding blobs in memory. `hooks.chunk(off, data)` may drop the connection after the
 * chunk is stored; `hooks.get(bytes)` may alter what a download returns. */
function fakeRelay(hooks = {}) {
  const blobs = new Map();
  const log = [];
  let rid = 1;
  const state = (b) => ({ id: b.id, size: b.size, have: b.have, ...(b.done ? { done: true } : {}) });
  const reply = (type, body) => {
    const r = rid++;
    const f = decode(encode(type, r, body));
    assert.equal(f.rid, r);
    return f;
  };
  async function request(type, body) {
    const f = decode(encode(type, rid, body)); // the request is a valid frame
    const b = f.body;
    log.push([f.name, b]);
    const key = b.id && toHex(b.id);
    const blob = blobs.get(key);
    if (type === T.blob_put) {
      if (blob) {
        if (blob.size !== b.size || toHex(blob.sha) !== toHex(b.sha)) throw relayError('forbidden');
        return reply(T.blob_state, state(blob));
      }
      const nb = { id: b.id, size: b.size, sha: b.sha, have: 0, bytes: new Uint8Array(b.size), done: false };
      blobs.set(key, nb);
      return reply(T.blob_state, state(nb));
    }
    if (type === T.blob_status) {
      if (!blob) throw relayError('not_found');
      return reply(T.blob_state, state(blob));
    }
    if (type === T.blob_chunk) {
      if (!blob) throw relayError('not_found');
      if (b.off !== blob.have) return reply(T.blob_state, state(blob));
      if (b.off + b.data.length > blob.size) throw relayError('over_limit');
      blob.bytes.set(b.data, b.off);
      blob.have += b.data.length;
      if (blob.have === blob.size) {
        if (toHex(sodium.crypto_hash_sha256(blob.bytes)) !== toHex(blob.sha)) { blobs.delete(key); throw relayError('bad_digest'); }
        blob.done = true;
      }
      if (hooks.chunk?.(b.off, b.data)) throw relayError('closed'); // stored, but the answer is lost
      return reply(T.blob_state, state(blob));
    }
    if (type === T.blob_get) {
      if (!blob?.done) throw relayError('not_found');
      const bytes = hooks.get ? hooks.get(blob.bytes) : blob.bytes;
      if (b.off >= bytes.length) throw relayError('out_of_range', { limit: bytes.length });
      return reply(T.blob_data, { id: b.id, off: b.off, data: bytes.slice(b.off, b.off + b.len) });
    }
    throw relayError('unknown_type');
  }
  return { request, blobs, log };
}

const file = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff; return b; };

function attachment(n) {
  const plain = file(n);
  const a = encryptAttachment(plain);
  return { plain, ...a, id: blobId(a.digest), desc: { key: a.key, digest: a.digest, size: a.size } };
}

test('the blob id is the first half of the ciphertext digest, and the ciphertext size follows the plaintext size', () => {
  const a = attachment(200000);
  assert.equal(a.id.length, 16);
  assert.deepEqual(a.id, sodium.crypto_hash_sha256(a.ciphertext).slice(0, 16));
  assert.notDeepEqual(blobId(attachment(200000).digest), a.id);
  for (const n of [0, 1, 65535, 65536, 65537, 200000]) assert.equal(ciphertextSize(n), encryptAttachment(file(n)).ciphertext.length);
});

test('upload: chunks of at most 256 KiB, each at the offset the relay holds', async () => {
  const a = attachment(700 * 1024);
  const relay = fakeRelay();
  const seen = [];
  const st = await uploadBlob(relay.request, { id: a.id, ct: a.ciphertext, sha: a.digest }, (h) => seen.push(h));
  assert.equal(st.done, true);
  const chunks = relay.log.filter(([n]) => n === 'blob_chunk').map(([, b]) => b);
  assert.equal(chunks.length, Math.ceil(a.ciphertext.length / BLOB_CHUNK));
  let off = 0;
  for (const c of chunks) {
    assert.ok(c.data.length <= 262144 && c.data.length > 0);
    assert.equal(c.off, off);
    off += c.data.length;
  }
  assert.equal(off, a.ciphertext.length);
  assert.deepEqual(relay.blobs.get(toHex(a.id)).bytes, a.ciphertext);
  assert.equal(seen.at(-1), a.ciphertext.length);
});

test('upload resumes after a dropped connection from the relay\'s have, nothing sent twice', async () => {
  const a = attachment(900 * 1024);
  let drop = true;
  const relay = fakeRelay({ chunk: (off) => { if (!drop || off !== BLOB_CHUNK) return false; drop = false; return true; } });
  await assert.rejects(uploadBlob(relay.request, { id: a.id, ct: a.ciphertext, sha: a.digest }), { code: 'closed' });
  assert.equal(relay.blobs.get(toHex(a.id)).have, 2 * BLOB_CHUNK);
  relay.log.length = 0;
  const st = await uploadBlob(relay.request, { id: a.id, ct: a.ciphertext, sha: a.digest });
  assert.equal(st.done, true);
  const offs = relay.log.filter(([n]) => n === 'blob_chunk').map(([, b]) => b.off);
  assert.equal(offs[0], 2 * BLOB_CHUNK);
  assert.deepEqual(relay.blobs.get(toHex(a.id)).bytes, a.ciphertext);
});

test('upload of a ciphertext that does not match its declared digest is refused with bad_digest', async () => {
  const a = attachment(300 * 1024);
  const bad = a.ciphertext.slice();
  bad[BLOB_CHUNK + 5] ^= 1; // a corrupted chunk
  const relay = fakeRelay();
  await assert.rejects(uploadBlob(relay.request, { id: a.id, ct: bad, sha: a.digest }), { code: 'bad_digest' });
  assert.equal(relay.blobs.has(toHex(a.id)), false);
});

test('download: chunks reassemble, size and digest check out, the file decrypts byte-identical', async () => {
  const a = attachment(3 * 1024 * 1024 + 123);
  const relay = fakeRelay();
  await uploadBlob(relay.request, { id: a.id, ct: a.ciphertext, sha: a.digest });
  relay.log.length = 0;
  const plain = await fetchAttachment(relay.request, a.desc);
  assert.deepEqual(plain, a.plain);
  for (const [n, b] of relay.log) if (n === 'blob_get') assert.ok(b.len <= 262144);
});

test('download: a corrupted chunk, a wrong digest or a wrong size is refused before decryption', async () => {
  const a = attachment(600 * 1024);
  const upload = async (hooks) => {
    const relay = fakeRelay(hooks);
    await uploadBlob(relay.request, { id: a.id, ct: a.ciphertext, sha: a.digest });
    return relay;
  };
  // A byte flipped in the second chunk of the stored blob.
  const corrupt = await upload({ get: (b) => { const c = b.slice(); c[BLOB_CHUNK + 1] ^= 0x40; return c; } });
  await assert.rejects(downloadBlob(corrupt.request, a.id, a.ciphertext.length, a.digest), (e) => e instanceof BlobError && e.code === 'digest');
  await assert.rejects(fetchAttachment(corrupt.request, a.desc), (e) => e instanceof BlobError && e.code === 'digest');
  // A descriptor whose digest does not name this ciphertext.
  const good = await upload();
  const other = a.digest.slice(); other[0] ^= 1;
  await assert.rejects(downloadBlob(good.request, a.id, a.ciphertext.length, other), (e) => e instanceof BlobError && e.code === 'digest');
  // A blob longer or shorter than the descriptor's size.
  const longer = await upload({ get: (b) => new Uint8Array([...b, 0]) });
  await assert.rejects(fetchAttachment(longer.request, a.desc), (e) => e instanceof BlobError && e.code === 'size');
  const shorter = await upload({ get: (b) => b.subarray(0, b.length - 1) });
  await assert.rejects(fetchAttachment(shorter.request, a.desc), (e) => e instanceof BlobError);
  // A relay that returns a chunk at another offset.
  const shifted = fakeRelay();
  await uploadBlob(shifted.request, { id: a.id, ct: a.ciphertext, sha: a.digest });
  const req = async (type, body) => {
    const r = await shifted.request(type, body);
    if (type === T.blob_get && body.off > 0) r.body.off += 1;
    return r;
  };
  await assert.rejects(fetchAttachment(req, a.desc), (e) => e instanceof BlobError && e.code === 'size');
  // The intact blob still downloads.
  assert.deepEqual(await fetchAttachment(good.request, a.desc), a.plain);
});

test('a blob the relay does not grant is not_found, passed on unchanged', async () => {
  const a = attachment(1000);
  await assert.rejects(fetchAttachment(fakeRelay().request, a.desc), { code: 'not_found' });
});
