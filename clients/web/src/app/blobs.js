// SPDX-License-Identifier: MPL-2.0
// Attachment transfer (spec/protocol.md §10): the upload of one encrypted blob in chunks that
// follow the relay's `have`, resumable by declaring the blob again, and the download of a blob
// whose size and SHA-256 are checked against the descriptor before anything is decrypted.
import { sodium } from '../crypto/sodium.js';
import { equal } from '../crypto/bytes.js';
import { CHUNK, decryptAttachment } from '../crypto/attachment.js';
import { LIMITS, T } from '../protocol/schema.js';

export const BLOB_CHUNK = LIMITS.BLOB_CHUNK_BYTES; // 256 KiB per blob_chunk and blob_get
// A chunk sent on a connection that dropped may still be being stored: the relay answers
// `unavailable` with det.retry; this many waits before the upload gives up for now.
const MAX_BUSY = 20;

/** Ciphertext length of an attachment of `size` plaintext bytes (spec/crypto.md §13.1). */
export const ciphertextSize = (size) => 24 + size + 17 * Math.max(1, Math.ceil(size / CHUNK));

/** The blob id of an attachment: the first 16 bytes of its ciphertext's digest, which the
 * descriptor carries (the descriptor has no field for the id, and `deliver` does not name blobs).
 * The digest is as unpredictable as the random key and header that begin the ciphertext. The C
 * client library derives it the same way. */
export const blobId = (digest) => digest.slice(0, 16);

export class BlobError extends Error {
  constructor(code) { super(code); this.name = 'BlobError'; this.code = code; }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Uploads `ct` as blob `id` with digest `sha`. `request(type, body)` resolves with the reply frame
 * or rejects with the relay's error (`code`, `det`). Declaring the blob answers how much the relay
 * already holds, so the same call resumes an upload cut by a reconnect. `progress(have)` is called
 * after every stored chunk. Resolves when the relay reports the blob complete; rejects with the
 * relay's error otherwise (`bad_digest`: the relay deleted the blob).
 */
export async function uploadBlob(request, { id, ct, sha }, progress = () => {}) {
  let st = (await request(T.blob_put, { id, size: ct.length, sha })).body;
  let busy = 0;
  while (!st.done) {
    const have = Number(st.have);
    if (have >= ct.length) throw new BlobError('bad_state');
    progress(have);
    try {
      st = (await request(T.blob_chunk, { id, off: have, data: ct.subarray(have, have + BLOB_CHUNK) })).body;
    } catch (e) {
      if (e.code !== 'unavailable' || ++busy > MAX_BUSY) throw e;
      await sleep(Number(e.det?.retry ?? 200));
      st = (await request(T.blob_status, { id })).body;
    }
  }
  progress(ct.length);
  return st;
}

/**
 * Downloads blob `id` of `size` ciphertext bytes in chunks and returns the ciphertext only when
 * its size is `size` and its SHA-256 is `digest`; otherwise rejects with BlobError('size') or
 * BlobError('digest') and nothing is decrypted.
 */
export async function downloadBlob(request, id, size, digest) {
  const out = new Uint8Array(size);
  let off = 0;
  while (off < size) {
    const b = (await request(T.blob_get, { id, off, len: Math.min(BLOB_CHUNK, size - off) }).catch((e) => {
      throw e.code === 'out_of_range' ? new BlobError('size') : e; // shorter than the descriptor says
    })).body;
    if (Number(b.off) !== off || !equal(b.id, id) || b.data.length > size - off) throw new BlobError('size');
    out.set(b.data, off);
    off += b.data.length;
  }
  // A blob longer than the descriptor says is as wrong as a shorter one.
  if (size > 0) {
    const more = await request(T.blob_get, { id, off: size, len: 1 }).then(() => true, (e) => {
      if (e.code === 'out_of_range') return false;
      throw e;
    });
    if (more) throw new BlobError('size');
  }
  if (!equal(sodium.crypto_hash_sha256(out), digest)) throw new BlobError('digest');
  return out;
}

/** Downloads, checks and decrypts the attachment a descriptor names. */
export async function fetchAttachment(request, desc) {
  const ct = await downloadBlob(request, blobId(desc.digest), ciphertextSize(desc.size), desc.digest);
  return decryptAttachment(desc.key, desc.digest, desc.size, ct);
}
