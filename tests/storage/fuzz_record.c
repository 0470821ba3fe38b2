/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target for the stored-record decoders (a damaged or hostile data.mdb). Input: one selector
 * byte, then the value bytes. A record that decodes must re-encode to the same bytes, since every
 * layout in spec/storage.md is canonical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records_internal.h"
#include "store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[STORE__KEY_MAILBOX_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
						     0, 0, 0, 0, 0, 0, 0, 7};

static void same(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (memcmp(a, b, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0] % 12;
	const uint8_t *v = data + 1;
	size_t n = size - 1;
	switch (sel) {
	case 0: {
		struct store_account a;
		uint8_t buf[STORE__ACCOUNT_MAX_LEN];
		if (store__account_decode(key, v, n, &a) == 0) {
			if (store__account_encode(&a, buf) != n)
				abort();
			same(buf, v, n);
		}
		break;
	}
	case 1: {
		struct store_device d;
		uint8_t buf[STORE__DEVICE_MAX_LEN];
		if (store__device_decode(key, v, n, &d) == 0) {
			if (store__device_encode(&d, buf) != n)
				abort();
			same(buf, v, n);
		}
		break;
	}
	case 2: {
		struct store_signed_prekey k;
		uint8_t buf[STORE__SPK_LEN];
		if (store__spk_decode(v, n, &k) == 0) {
			store__spk_encode(&k, buf);
			same(buf, v, n);
		}
		break;
	}
	case 3: {
		struct store_prekey k;
		uint8_t buf[STORE__OTPK_LEN];
		if (store__otpk_decode(key, v, n, &k) == 0) {
			store__otpk_encode(&k, buf);
			same(buf, v, n);
		}
		break;
	}
	case 4: {
		struct store_envelope e;
		uint8_t buf[STORE__MAILBOX_HDR_LEN];
		if (store__mailbox_decode(key, v, n, &e) == 0) {
			if (e.payload != v + STORE__MAILBOX_HDR_LEN || e.payload_len != n - STORE__MAILBOX_HDR_LEN)
				abort();
			store__mailbox_encode_header(&e, buf);
			same(buf, v, STORE__MAILBOX_HDR_LEN);
		}
		break;
	}
	case 6: {
		struct store_consent c;
		static uint8_t buf[STORE__CONSENT_MAX_LEN];
		if (store__consent_decode(key, v, n, &c) == 0) {
			if (c.record < v || c.record + c.record_len > v + n)
				abort();
			if (store__consent_encode(&c, buf) != n)
				abort();
			same(buf, v, n);
		}
		break;
	}
	case 7: {
		struct store__consent_latest l;
		uint8_t buf[STORE__CONSENT_LATEST_MAX_LEN];
		if (store__consent_latest_decode(v, n, &l) == 0) {
			if (store__consent_latest_encode(&l, buf) != n)
				abort();
			same(buf, v, n);
		}
		break;
	}
	case 8: {
		struct store__consent_count c;
		uint8_t buf[STORE__CONSENT_COUNT_LEN];
		if (store__consent_count_decode(v, n, &c) == 0) {
			store__consent_count_encode(&c, buf);
			same(buf, v, n);
		}
		break;
	}
	case 9: {
		uint64_t seq;
		uint8_t hash[STORE_AUDIT_HASH_BYTES], buf[STORE__AUDIT_HEAD_LEN];
		if (store__audit_head_decode(v, n, &seq, hash) == 0) {
			store__audit_head_encode(seq, hash, buf);
			same(buf, v, n);
		}
		break;
	}
	case 10: {
		struct store_blob b;
		uint8_t buf[STORE__BLOB_LEN];
		if (store__blob_decode(key, v, n, &b) == 0) {
			store__blob_encode(&b, buf);
			same(buf, v, n);
		}
		break;
	}
	case 11: {
		struct store_push_sub p;
		uint8_t buf[96 + STORE_PUSH_APP_MAX + STORE_PUSH_ADDR_MAX];
		if (store__push_sub_decode(v, n, &p) == 0) {
			if (store__push_sub_encode(&p, buf) != n)
				abort();
			same(buf, v, n);
		}
		break;
	}
	default: {
		struct store_idempotency idem;
		struct store_seq seqs[8];
		if (store__idem_decode(v, n, &idem, seqs, 8) == 0) {
			if (store__idem_len(idem.n) != n)
				abort();
			if (idem.n <= 8) {
				uint8_t *buf = malloc(n);
				if (!buf)
					abort();
				store__idem_encode(idem.stored_at_ms, idem.expires_at_ms, seqs, idem.n, buf);
				same(buf, v, n);
				free(buf);
			}
		}
		break;
	}
	}
	return 0;
}
