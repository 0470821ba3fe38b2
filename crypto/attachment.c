/* SPDX-License-Identifier: MPL-2.0 */
/* Attachments (spec §Attachments): a fresh key per file, secretstream chunks, SHA-256 of the
 * whole ciphertext; key, digest, size, media type and file name travel inside the message. */
#include "wc_internal.h"

#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define ATT_DESCRIPTOR_VERSION 1

static size_t attach__chunks(size_t len)
{
	return len == 0 ? 1 : (len + WC_ATTACHMENT_CHUNK_BYTES - 1) / WC_ATTACHMENT_CHUNK_BYTES;
}

size_t wc_attachment_ciphertext_size(size_t plaintext_len)
{
	return SS_HEADER + plaintext_len + attach__chunks(plaintext_len) * SS_ABYTES;
}

int wc_attachment_encrypt(const uint8_t *pt, size_t len, uint8_t *out, size_t out_cap,
			  size_t *out_len, wc_attachment *att)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[WC_ATTACHMENT_KEY_BYTES];
	if (!out || !out_len || !att || (!pt && len))
		return WC_E_INVAL;
	if (len > WC_ATTACHMENT_MAX_BYTES)
		return WC_E_TOO_LARGE;
	size_t need = wc_attachment_ciphertext_size(len);
	if (out_cap < need)
		return WC_E_SPACE;
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, out, key);
	size_t nchunks = attach__chunks(len), off = SS_HEADER;
	for (size_t i = 0; i < nchunks; i++) {
		size_t n = len - i * WC_ATTACHMENT_CHUNK_BYTES;
		if (n > WC_ATTACHMENT_CHUNK_BYTES)
			n = WC_ATTACHMENT_CHUNK_BYTES;
		uint8_t tag = i + 1 == nchunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
					       : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
		/* The first chunk's associated data names the domain and the plaintext size. */
		uint8_t ad[sizeof WC__DS_ATTACHMENT - 1 + 8];
		memcpy(ad, WC__DS_ATTACHMENT, sizeof WC__DS_ATTACHMENT - 1);
		wakks_store_be64(ad + sizeof WC__DS_ATTACHMENT - 1, (uint64_t)len);
		crypto_secretstream_xchacha20poly1305_push(&st, out + off, NULL,
							   pt + i * WC_ATTACHMENT_CHUNK_BYTES, n,
							   i == 0 ? ad : NULL, i == 0 ? sizeof ad : 0,
							   tag);
		off += n + SS_ABYTES;
	}
	memcpy(att->key, key, sizeof key);
	crypto_hash_sha256(att->digest, out, need);
	att->size = len;
	*out_len = need;
	sodium_memzero(key, sizeof key);
	sodium_memzero(&st, sizeof st);
	return WC_OK;
}

int wc_attachment_decrypt(const wc_attachment *att, const uint8_t *ct, size_t len, uint8_t *out,
			  size_t out_cap)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t digest[WC_DIGEST_BYTES];
	int rc = WC_E_VERIFY;
	if (!att || !ct || (!out && att->size))
		return WC_E_INVAL;
	if (att->size > WC_ATTACHMENT_MAX_BYTES)
		return WC_E_TOO_LARGE;
	if (out_cap < att->size)
		return WC_E_SPACE;
	if (len != wc_attachment_ciphertext_size((size_t)att->size))
		return WC_E_VERIFY;
	crypto_hash_sha256(digest, ct, len);
	if (sodium_memcmp(digest, att->digest, sizeof digest) != 0)
		return WC_E_VERIFY;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&st, ct, att->key) != 0)
		goto out;
	size_t size = (size_t)att->size, nchunks = attach__chunks(size), off = SS_HEADER;
	uint8_t ad[sizeof WC__DS_ATTACHMENT - 1 + 8];
	memcpy(ad, WC__DS_ATTACHMENT, sizeof WC__DS_ATTACHMENT - 1);
	wakks_store_be64(ad + sizeof WC__DS_ATTACHMENT - 1, att->size);
	for (size_t i = 0; i < nchunks; i++) {
		size_t n = size - i * WC_ATTACHMENT_CHUNK_BYTES;
		if (n > WC_ATTACHMENT_CHUNK_BYTES)
			n = WC_ATTACHMENT_CHUNK_BYTES;
		uint8_t tag;
		if (crypto_secretstream_xchacha20poly1305_pull(
			    &st, out + i * WC_ATTACHMENT_CHUNK_BYTES, NULL, &tag, ct + off,
			    n + SS_ABYTES, i == 0 ? ad : NULL, i == 0 ? sizeof ad : 0) != 0)
			goto fail;
		uint8_t want = i + 1 == nchunks ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
						: crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
		if (tag != want)
			goto fail;
		off += n + SS_ABYTES;
	}
	rc = WC_OK;
	goto out;
fail:
	sodium_memzero(out, size);
out:
	sodium_memzero(&st, sizeof st);
	return rc;
}

int wc_attachment_encode(const wc_attachment *att, uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (!att || !out || !out_len)
		return WC_E_INVAL;
	size_t mt = strnlen(att->media_type, sizeof att->media_type);
	size_t fn = strnlen(att->file_name, sizeof att->file_name);
	if (mt > WC_MEDIA_TYPE_MAX || fn > WC_FILE_NAME_MAX || att->size > WC_ATTACHMENT_MAX_BYTES)
		return WC_E_INVAL;
	size_t need = 1 + 32 + 32 + 8 + 1 + mt + 1 + fn;
	if (out_cap < need)
		return WC_E_SPACE;
	uint8_t *p = out;
	*p++ = ATT_DESCRIPTOR_VERSION;
	memcpy(p, att->key, 32);
	memcpy(p + 32, att->digest, 32);
	wakks_store_be64(p + 64, att->size);
	p += 72;
	*p++ = (uint8_t)mt;
	memcpy(p, att->media_type, mt);
	p += mt;
	*p++ = (uint8_t)fn;
	memcpy(p, att->file_name, fn);
	*out_len = need;
	return WC_OK;
}

int wc_attachment_decode(const uint8_t *in, size_t len, wc_attachment *out)
{
	wc_attachment a;
	if (!in || !out)
		return WC_E_INVAL;
	if (len < 1)
		return WC_E_FORMAT;
	if (in[0] != ATT_DESCRIPTOR_VERSION)
		return WC_E_VERSION;
	if (len < 1 + 72 + 1)
		return WC_E_FORMAT;
	memset(&a, 0, sizeof a);
	memcpy(a.key, in + 1, 32);
	memcpy(a.digest, in + 33, 32);
	a.size = wakks_load_be64(in + 65);
	size_t off = 73, mt = in[off++];
	if (mt > WC_MEDIA_TYPE_MAX || len < off + mt + 1)
		goto bad;
	memcpy(a.media_type, in + off, mt);
	off += mt;
	size_t fn = in[off++];
	if (len != off + fn || a.size > WC_ATTACHMENT_MAX_BYTES ||
	    memchr(a.media_type, 0, mt) || memchr(in + off, 0, fn))
		goto bad;
	memcpy(a.file_name, in + off, fn);
	*out = a;
	sodium_memzero(&a, sizeof a);
	return WC_OK;
bad:
	sodium_memzero(&a, sizeof a);
	return WC_E_FORMAT;
}

void wc_attachment_wipe(wc_attachment *att)
{
	if (att)
		sodium_memzero(att, sizeof *att);
}
