/* SPDX-License-Identifier: MPL-2.0 */
/* The operations and reads the PostgreSQL engine does not store yet: consent records, the audit
 * log, blobs, account erasure (spec/storage-postgresql.md §4), backup and data check. They fail
 * with STORE_EINTERNAL ("not in this engine yet") rather than pretend; each goes when its area
 * lands. */
#include "pg_internal.h"

#define PENDING_OP(name)                                                             \
	int pg__op_##name##_apply(struct pg_wtxn *w, struct store__op *op)           \
	{                                                                            \
		(void)w;                                                             \
		(void)op;                                                            \
		return STORE_EINTERNAL;                                              \
	}

PENDING_OP(audit_append)
PENDING_OP(put_consent)
PENDING_OP(erase_account)
PENDING_OP(blob_declare)
PENDING_OP(blob_progress)
PENDING_OP(blob_complete)
PENDING_OP(blob_ref)
PENDING_OP(blob_release)
PENDING_OP(blob_delete)
PENDING_OP(blob_expire)
#ifdef WAKKS_TEST_HOOKS
PENDING_OP(test_audit_raw)
#endif

int pg_consent_latest(struct store *s, const uint8_t account_id[STORE_ID_BYTES], const char *tenant,
		      const char *unit, uint8_t *kind, uint64_t *received_at_ms)
{
	(void)s, (void)account_id, (void)tenant, (void)unit, (void)kind, (void)received_at_ms;
	return STORE_EINTERNAL;
}

int pg_consent_iter(struct store *s, const uint8_t account_id[STORE_ID_BYTES], store_consent_cb cb,
		    void *data)
{
	(void)s, (void)account_id, (void)cb, (void)data;
	return STORE_EINTERNAL;
}

int pg_consent_report(struct store *s, const char *tenant, store_consent_report_cb cb, void *data)
{
	(void)s, (void)tenant, (void)cb, (void)data;
	return STORE_EINTERNAL;
}

int pg_audit_head(struct store *s, uint64_t *seq, uint8_t hash[STORE_AUDIT_HASH_BYTES])
{
	(void)s, (void)seq, (void)hash;
	return STORE_EINTERNAL;
}

int pg_audit_iter(struct store *s, uint64_t from_seq, size_t max, store_audit_cb cb, void *data)
{
	(void)s, (void)from_seq, (void)max, (void)cb, (void)data;
	return STORE_EINTERNAL;
}

int pg_get_blob(struct store *s, const uint8_t id[STORE_ID_BYTES], struct store_blob *out)
{
	(void)s, (void)id, (void)out;
	return STORE_EINTERNAL;
}

int pg_list_blobs(struct store *s, store_blob_cb cb, void *data)
{
	(void)s, (void)cb, (void)data;
	return STORE_EINTERNAL;
}

int pg_get_blob_file_count(struct store *s, const uint8_t sha256[STORE_BLOB_SHA_BYTES],
			   uint32_t *count)
{
	(void)s, (void)sha256, (void)count;
	return STORE_EINTERNAL;
}

int pg_get_blob_grant(struct store *s, const uint8_t blob_id[STORE_ID_BYTES],
		      const uint8_t device_id[STORE_ID_BYTES], uint32_t *count,
		      uint64_t *expires_at_ms)
{
	(void)s, (void)blob_id, (void)device_id, (void)count, (void)expires_at_ms;
	return STORE_EINTERNAL;
}

int pg_get_blob_usage(struct store *s, const uint8_t account_id[STORE_ID_BYTES], uint64_t *bytes,
		      uint32_t *count)
{
	(void)s, (void)account_id, (void)bytes, (void)count;
	return STORE_EINTERNAL;
}

int pg_backup(struct store *s, const char *dir)
{
	(void)s, (void)dir;
	return STORE_EINTERNAL;
}

int pg_check_data(struct store *s, store_check_cb cb, void *data, uint64_t *records)
{
	(void)s, (void)cb, (void)data, (void)records;
	return STORE_EINTERNAL;
}
