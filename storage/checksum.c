/* SPDX-License-Identifier: MPL-2.0 */
/* Record checksums (spec/storage.md §2.1). LMDB checks nothing it reads, so bit rot in data.mdb
 * would be served as data: every value carries an 8-byte trailer over its key and its bytes,
 * written by the helpers here and verified by every read helper before a decoder sees it. */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "store_internal.h"

/* Fixed, public key: the checksum detects damage, not tampering (spec/storage.md §11). It also
 * separates this use of BLAKE2b from any other. */
static const uint8_t check_key[16] = "wakks-storage-v2";

/* Every checksum begins with the key block and the key's length, so the hash state after those
 * depends only on that length: it is computed once per short length and each checksum starts
 * from a copy, which skips the key block's setup (init: parameter block, key block padding) and
 * one update. Keys are at most 40 bytes but for a few metadata and index keys. */
#define PREFIX_LENGTHS 64
static crypto_generichash_blake2b_state prefix[PREFIX_LENGTHS];
static pthread_once_t prefix_once = PTHREAD_ONCE_INIT;

static void prefix_state(crypto_generichash_blake2b_state *st, size_t klen)
{
	uint8_t kl[2];
	kl[0] = (uint8_t)(klen >> 8);
	kl[1] = (uint8_t)klen;
	crypto_generichash_blake2b_init(st, check_key, sizeof check_key, STORE__CHECK_HASH_LEN);
	crypto_generichash_blake2b_update(st, kl, sizeof kl);
}

static void prefix_init(void)
{
	for (size_t i = 0; i < PREFIX_LENGTHS; i++)
		prefix_state(&prefix[i], i);
}

void store__checksum(const void *key, size_t klen, const void *val, size_t vlen,
		     uint8_t out[STORE__CHECK_LEN])
{
	crypto_generichash_blake2b_state st;
	uint8_t full[STORE__CHECK_HASH_LEN];
	if (klen < PREFIX_LENGTHS) {
		pthread_once(&prefix_once, prefix_init);
		st = prefix[klen];
	} else {
		prefix_state(&st, klen);
	}
	crypto_generichash_blake2b_update(&st, key, klen);
	if (vlen)
		crypto_generichash_blake2b_update(&st, val, vlen);
	crypto_generichash_blake2b_final(&st, full, sizeof full);
	memcpy(out, full, STORE__CHECK_LEN);
}

int store__check(struct store *s, const MDB_val *k, MDB_val *v)
{
	uint8_t want[STORE__CHECK_LEN];
	if (v->mv_size >= STORE__CHECK_LEN) {
		size_t len = v->mv_size - STORE__CHECK_LEN;
		store__checksum(k->mv_data, k->mv_size, v->mv_data, len, want);
		if (sodium_memcmp(want, (const uint8_t *)v->mv_data + len, STORE__CHECK_LEN) == 0) {
			v->mv_size = len;
			return 0;
		}
	}
	if (s)
		__atomic_add_fetch(&s->corrupt_reads, 1, __ATOMIC_RELAXED);
	return STORE_ECORRUPT;
}

int store__cursor_get(struct store *s, MDB_cursor *cur, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	int rc = mdb_cursor_get(cur, k, v, op);
	if (rc == 0 && store__check(s, k, v) != 0)
		return MDB_CORRUPTED;
	return rc;
}

int store__reserve(struct store *s, MDB_txn *txn, enum store__db db, const void *key, size_t klen,
		   size_t vlen, unsigned flags, void **out)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = vlen + STORE__CHECK_LEN, .mv_data = NULL};
	int rc = mdb_put(txn, s->dbi[db], &k, &v, flags | MDB_RESERVE);
	if (rc)
		return rc;
	*out = v.mv_data;
	return 0;
}

void store__seal(const void *key, size_t klen, void *val, size_t vlen)
{
	store__checksum(key, klen, val, vlen, (uint8_t *)val + vlen);
}
