/* SPDX-License-Identifier: MPL-2.0 */
/* Every body of protocol v1 as a table: key, msgpack type, required or optional, limits.
 * spec/protocol.md §4-§7 is the prose form of these tables; keep them in step. */
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"

#define REQ 1
#define OPT 0

#define F_SCALAR(k, kind_, req, T, m, lo, hi) \
	{ k, sizeof(k) - 1, kind_, req, 0, offsetof(T, m), PROTO__NO_AUX, 0, 0, lo, hi, NULL }
#define F_U32(k, req, T, m, lo, hi) F_SCALAR(k, PROTO__K_U32, req, T, m, lo, hi)
#define F_U64(k, req, T, m, lo, hi) F_SCALAR(k, PROTO__K_U64, req, T, m, lo, hi)
#define F_BOOL(k, req, T, m) F_SCALAR(k, PROTO__K_BOOL, req, T, m, 0, 1)
#define F_FIX(k, req, T, m, n) F_SCALAR(k, PROTO__K_FIXBIN, req, T, m, n, n)
#define F_BIN(k, req, T, m, lo, hi) F_SCALAR(k, PROTO__K_BIN, req, T, m, lo, hi)
#define F_TEXT(k, req, T, m, lo, hi) F_SCALAR(k, PROTO__K_TEXT, req, T, m, lo, hi)
#define F_ASCII(k, req, T, m, lo, hi) F_SCALAR(k, PROTO__K_ASCII, req, T, m, lo, hi)
#define F_SLUG(k, req, T, m) F_SCALAR(k, PROTO__K_SLUG, req, T, m, 1, PROTO_MAX_SLUG_BYTES)
#define F_MAP(k, T, m, sub_) \
	{ k, sizeof(k) - 1, PROTO__K_MAP, REQ, 0, offsetof(T, m), PROTO__NO_AUX, 0, 0, 0, 0, &sub_ }
#define F_OMAP(k, T, m, has, sub_) \
	{ k, sizeof(k) - 1, PROTO__K_MAP, OPT, 0, offsetof(T, m), offsetof(T, has), 0, 0, 0, 0, &sub_ }
#define F_AMAP(k, req, T, arr, cnt, lo, hi, sub_)                                            \
	{ k, sizeof(k) - 1, PROTO__K_ARRAY, req, PROTO__K_MAP, offsetof(T, arr), offsetof(T, cnt), \
	  sizeof(((T *)0)->arr[0]), 0, lo, hi, &sub_ }
#define F_AID(k, req, T, arr, cnt, lo, hi)                                                     \
	{ k, sizeof(k) - 1, PROTO__K_ARRAY, req, PROTO__K_FIXBIN, offsetof(T, arr), offsetof(T, cnt), \
	  sizeof(((T *)0)->arr[0]), PROTO_ID_BYTES, lo, hi, NULL }

#define NFIELDS(arr) (sizeof(arr) / sizeof(arr[0]))
/* A body whose fields are all required. */
#define SCHEMA(var, nm, arr, chk) \
	static const struct proto__schema var = { nm, arr, NFIELDS(arr), (1u << NFIELDS(arr)) - 1u, chk }
/* A body with optional fields: mask has bit i set when field i is required. */
#define SCHEMA_OPT(var, nm, arr, mask, chk) \
	static const struct proto__schema var = { nm, arr, NFIELDS(arr), mask, chk }

#define ID PROTO_ID_BYTES
#define KEY PROTO_KEY_BYTES
#define SIG PROTO_SIG_BYTES

/* ---- shared parts ---- */

static const struct proto__field prekey_f[] = {
	F_U32("id", REQ, proto_prekey, id, 0, UINT32_MAX),
	F_FIX("pub", REQ, proto_prekey, pub, KEY),
};
SCHEMA(prekey_s, "prekey", prekey_f, NULL);

static const struct proto__field spk_f[] = {
	F_U32("id", REQ, proto_signed_prekey, id, 0, UINT32_MAX),
	F_FIX("pub", REQ, proto_signed_prekey, pub, KEY),
	F_U64("time", REQ, proto_signed_prekey, time, 0, UINT64_MAX),
	F_FIX("sig", REQ, proto_signed_prekey, sig, SIG),
};
SCHEMA(spk_s, "spk", spk_f, NULL);

static const struct proto__schema empty_s = { "empty", NULL, 0, 0, NULL };

/* ---- connection ---- */

static const struct proto__field hello_f[] = {
	F_U32("ver", REQ, proto_hello, version, 1, UINT32_MAX),
	F_U64("time", REQ, proto_hello, time, 0, UINT64_MAX),
	F_FIX("chal", REQ, proto_hello, challenge, PROTO_CHALLENGE_BYTES),
};
SCHEMA(hello_s, "hello", hello_f, NULL);

static const struct proto__field auth_f[] = {
	F_FIX("dev", REQ, proto_auth, device, ID),
	F_FIX("sig", REQ, proto_auth, sig, SIG),
};
SCHEMA(auth_s, "auth", auth_f, NULL);

static const struct proto__field auth_ok_f[] = {
	F_FIX("acc", REQ, proto_auth_ok, account, ID),
};
SCHEMA(auth_ok_s, "auth_ok", auth_ok_f, NULL);

static const struct proto__field error_det_f[] = {
	F_AID("missing", OPT, proto_error_details, missing, missing_count, 1, PROTO_MAX_RECIPIENT_DEVICES),
	F_AID("stale", OPT, proto_error_details, stale, stale_count, 1, PROTO_MAX_RECIPIENT_DEVICES),
	F_U64("limit", OPT, proto_error_details, limit, 1, UINT64_MAX),
	F_U64("retry", OPT, proto_error_details, retry_ms, 1, UINT64_MAX),
};
SCHEMA_OPT(error_det_s, "det", error_det_f, 0x0, NULL);

static const struct proto__field error_f[] = {
	F_U32("code", REQ, proto_error, code, 1, UINT32_MAX),
	F_ASCII("name", REQ, proto_error, name, 1, PROTO_MAX_ERROR_NAME_BYTES),
	F_TEXT("text", REQ, proto_error, text, 0, PROTO_MAX_ERROR_TEXT_BYTES),
	F_OMAP("det", proto_error, details, has_details, error_det_s),
};
SCHEMA_OPT(error_s, "error", error_f, 0x7, NULL);

/* ---- registration ---- */

static const struct proto__field register_f[] = {
	F_ASCII("att", REQ, proto_register, attestation, 1, PROTO_MAX_ATTESTATION_BYTES),
	F_FIX("ik", REQ, proto_register, identity_key, KEY),
	F_MAP("spk", proto_register, spk, spk_s),
	F_AMAP("opk", REQ, proto_register, opk, opk_count, 0, PROTO_MAX_PREKEYS_PER_UPLOAD, prekey_s),
	F_TEXT("label", OPT, proto_register, label, 1, PROTO_MAX_LABEL_BYTES),
};
SCHEMA_OPT(register_s, "register", register_f, 0xf, NULL);

static const struct proto__field registered_f[] = {
	F_FIX("acc", REQ, proto_registered, account, ID),
	F_FIX("dev", REQ, proto_registered, device, ID),
};
SCHEMA(registered_s, "registered", registered_f, NULL);

static const struct proto__field device_info_f[] = {
	F_FIX("dev", REQ, proto_device_info, device, ID),
	F_FIX("ik", REQ, proto_device_info, identity_key, KEY),
	F_U64("time", REQ, proto_device_info, time, 0, UINT64_MAX),
	F_TEXT("label", OPT, proto_device_info, label, 1, PROTO_MAX_LABEL_BYTES),
};
SCHEMA_OPT(device_info_s, "device", device_info_f, 0x7, NULL);

static const struct proto__field devices_f[] = {
	F_AMAP("list", REQ, proto_devices, list, count, 0, PROTO_MAX_DEVICES_PER_ACCOUNT, device_info_s),
};
SCHEMA(devices_s, "devices", devices_f, NULL);

static const struct proto__field device_ref_f[] = {
	F_FIX("dev", REQ, proto_device_ref, device, ID),
};
SCHEMA(device_ref_s, "device_revoke", device_ref_f, NULL);

/* ---- keys ---- */

static const struct proto__field prekeys_upload_f[] = {
	F_AMAP("opk", REQ, proto_prekeys_upload, opk, opk_count, 1, PROTO_MAX_PREKEYS_PER_UPLOAD, prekey_s),
};
SCHEMA(prekeys_upload_s, "prekeys_upload", prekeys_upload_f, NULL);

static const struct proto__field spk_rotate_f[] = {
	F_MAP("spk", proto_spk_rotate, spk, spk_s),
};
SCHEMA(spk_rotate_s, "spk_rotate", spk_rotate_f, NULL);

static const struct proto__field key_count_f[] = {
	F_U32("n", REQ, proto_key_count, count, 0, UINT32_MAX),
};
SCHEMA(key_count_s, "key_count", key_count_f, NULL);

/* Exactly one addressee: an account, or a tenant's unit. */
static int check_target(const void *body, const char **field)
{
	const proto_target *t = body;
	int unit = t->unit.ptr != NULL, ten = t->tenant.ptr != NULL;
	if (unit != ten || (t->account != NULL) == (unit && ten)) {
		*field = "acc";
		return PROTO_E_INVALID;
	}
	return 0;
}

static const struct proto__field target_f[] = {
	F_FIX("acc", OPT, proto_target, account, ID),
	F_SLUG("ten", OPT, proto_target, tenant),
	F_SLUG("unit", OPT, proto_target, unit),
};
SCHEMA_OPT(target_s, "target", target_f, 0x0, check_target);

static const struct proto__field bundle_f[] = {
	F_FIX("acc", REQ, proto_bundle, account, ID),
	F_FIX("dev", REQ, proto_bundle, device, ID),
	F_FIX("ik", REQ, proto_bundle, identity_key, KEY),
	F_MAP("spk", proto_bundle, spk, spk_s),
	F_OMAP("opk", proto_bundle, opk, has_opk, prekey_s),
};
SCHEMA_OPT(bundle_s, "bundle", bundle_f, 0xf, NULL);

static const struct proto__field bundles_f[] = {
	F_AMAP("list", REQ, proto_bundles, list, count, 0, PROTO_MAX_DEVICE_SET, bundle_s),
};
SCHEMA(bundles_s, "bundles", bundles_f, NULL);

/* ---- directory ---- */

static const struct proto__field dir_entry_f[] = {
	F_SLUG("id", REQ, proto_directory_entry, id),
	F_TEXT("name", REQ, proto_directory_entry, name, 1, PROTO_MAX_NAME_BYTES),
};
SCHEMA(dir_entry_s, "entry", dir_entry_f, NULL);

static const struct proto__field tenants_f[] = {
	F_AMAP("list", REQ, proto_tenants, list, count, 0, PROTO_MAX_TENANTS, dir_entry_s),
};
SCHEMA(tenants_s, "tenants", tenants_f, NULL);

static const struct proto__field units_list_f[] = {
	F_SLUG("ten", REQ, proto_units_list, tenant),
};
SCHEMA(units_list_s, "units_list", units_list_f, NULL);

static const struct proto__field units_f[] = {
	F_SLUG("ten", REQ, proto_units, tenant),
	F_AMAP("list", REQ, proto_units, list, count, 0, PROTO_MAX_UNITS, dir_entry_s),
};
SCHEMA(units_s, "units", units_f, NULL);

static const struct proto__field device_addr_f[] = {
	F_FIX("acc", REQ, proto_device_addr, account, ID),
	F_FIX("dev", REQ, proto_device_addr, device, ID),
};
SCHEMA(device_addr_s, "device_addr", device_addr_f, NULL);

static const struct proto__field device_set_f[] = {
	F_AMAP("list", REQ, proto_device_set, list, count, 0, PROTO_MAX_DEVICE_SET, device_addr_s),
};
SCHEMA(device_set_s, "device_set", device_set_f, NULL);

/* ---- messaging ---- */

static int cmp_id(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, PROTO_ID_BYTES);
}

static int id_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;
	memcpy(&a0, a, 8), memcpy(&a1, a + 8, 8), memcpy(&b0, b, 8), memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Up to this many ids, a small hash table on the stack; beyond, sorting. At most half full, so
 * probe sequences stay short even for ids a peer chose to collide. */
#define PROTO__DUP_HASH_SLOTS 64u
#define PROTO__DUP_HASH_MAX 32u

/* 1 if two of the n ids are equal: a hash table for small n, else a sorted copy of the pointers
 * (n log n for a full send). Worst case (all hints equal) is 32 * 31 / 2 comparisons. */
static int has_duplicate_id(const uint8_t *const *ids, uint32_t n, size_t stride)
{
	const uint8_t *sorted[PROTO_MAX_RECIPIENT_DEVICES];
	if (n < 2)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		sorted[i] = *(const uint8_t *const *)((const uint8_t *)ids + i * stride);
	if (n <= PROTO__DUP_HASH_MAX) {
		/* Open addressing on the ids' first 8 bytes (peer-chosen, so only a hint: equal
		 * hints are compared in full). Slots hold index + 1; 0 is empty. */
		uint8_t slot[PROTO__DUP_HASH_SLOTS];
		memset(slot, 0, sizeof slot);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t head;
			memcpy(&head, sorted[i], 8);
			unsigned h = (unsigned)((head * 0x9e3779b97f4a7c15ull) >> 58);
			while (slot[h] != 0) {
				if (id_eq(sorted[slot[h] - 1], sorted[i]))
					return 1;
				h = (h + 1) & (PROTO__DUP_HASH_SLOTS - 1);
			}
			slot[h] = (uint8_t)(i + 1);
		}
		return 0;
	}
	qsort(sorted, n, sizeof sorted[0], cmp_id);
	for (uint32_t i = 1; i < n; i++)
		if (memcmp(sorted[i - 1], sorted[i], PROTO_ID_BYTES) == 0)
			return 1;
	return 0;
}

/* ---- keys: bundles_fetch, which may name single devices ---- */

static int check_bundles_fetch(const void *body, const char **field)
{
	const proto_target *t = body;
	int rc = check_target(body, field);
	if (rc == 0 && has_duplicate_id(t->devs, t->dev_count, sizeof t->devs[0])) {
		*field = "devs";
		rc = PROTO_E_INVALID;
	}
	return rc;
}

static const struct proto__field bundles_fetch_f[] = {
	F_FIX("acc", OPT, proto_target, account, ID),
	F_SLUG("ten", OPT, proto_target, tenant),
	F_SLUG("unit", OPT, proto_target, unit),
	F_AID("devs", OPT, proto_target, devs, dev_count, 1, PROTO_MAX_DEVICE_SET),
};
SCHEMA_OPT(bundles_fetch_s, "bundles_fetch", bundles_fetch_f, 0x0, check_bundles_fetch);

/* A send addresses accounts and/or one unit (tenant with unit), each device once. */
static int check_send(const void *body, const char **field)
{
	const proto_send *s = body;
	int unit = s->unit.ptr != NULL, ten = s->tenant.ptr != NULL;
	if (unit != ten) {
		*field = unit ? "ten" : "unit";
		return PROTO_E_INVALID;
	}
	if (s->to_count == 0 && !unit) {
		*field = "to";
		return PROTO_E_INVALID;
	}
	if (has_duplicate_id(s->to, s->to_count, sizeof s->to[0])) {
		*field = "to";
		return PROTO_E_INVALID;
	}
	if (has_duplicate_id(&s->env[0].device, s->env_count, sizeof s->env[0])) {
		*field = "env";
		return PROTO_E_INVALID;
	}
	if (has_duplicate_id(s->blobs, s->blob_count, sizeof s->blobs[0])) {
		*field = "blobs";
		return PROTO_E_INVALID;
	}
	return 0;
}

static const struct proto__field envelope_f[] = {
	F_FIX("dev", REQ, proto_envelope, device, ID),
	F_BIN("ct", REQ, proto_envelope, ciphertext, 1, PROTO_MAX_CIPHERTEXT_BYTES),
};
SCHEMA(envelope_s, "envelope", envelope_f, NULL);

static const struct proto__field send_f[] = {
	F_FIX("cmid", REQ, proto_send, cmid, ID),
	F_AID("to", OPT, proto_send, to, to_count, 1, PROTO_MAX_RECIPIENT_ACCOUNTS),
	F_SLUG("ten", OPT, proto_send, tenant),
	F_SLUG("unit", OPT, proto_send, unit),
	F_BOOL("rcpt", OPT, proto_send, receipts),
	F_AMAP("env", REQ, proto_send, env, env_count, 1, PROTO_MAX_RECIPIENT_DEVICES, envelope_s),
	F_AID("blobs", OPT, proto_send, blobs, blob_count, 1, PROTO_MAX_BLOBS_PER_SEND),
};
SCHEMA_OPT(send_s, "send", send_f, 0x21, check_send);

static const struct proto__field stored_f[] = {
	F_FIX("cmid", REQ, proto_stored, cmid, ID),
	F_U64("time", REQ, proto_stored, time, 0, UINT64_MAX),
};
SCHEMA(stored_s, "stored", stored_f, NULL);

static int check_deliver(const void *body, const char **field)
{
	const proto_deliver *d = body;
	if ((d->unit.ptr != NULL) != (d->tenant.ptr != NULL)) {
		*field = d->unit.ptr ? "ten" : "unit";
		return PROTO_E_INVALID;
	}
	return 0;
}

static const struct proto__field deliver_f[] = {
	F_U64("seq", REQ, proto_deliver, seq, 0, UINT64_MAX),
	F_FIX("cmid", REQ, proto_deliver, cmid, ID),
	F_FIX("acc", REQ, proto_deliver, account, ID),
	F_FIX("dev", REQ, proto_deliver, device, ID),
	F_U64("time", REQ, proto_deliver, time, 0, UINT64_MAX),
	F_SLUG("ten", OPT, proto_deliver, tenant),
	F_SLUG("unit", OPT, proto_deliver, unit),
	F_BIN("ct", REQ, proto_deliver, ciphertext, 1, PROTO_MAX_CIPHERTEXT_BYTES),
};
SCHEMA_OPT(deliver_s, "deliver", deliver_f, 0x9f, check_deliver);

static const struct proto__field ack_f[] = {
	F_U64("seq", REQ, proto_ack, seq, 0, UINT64_MAX),
};
SCHEMA(ack_s, "ack", ack_f, NULL);

static const struct proto__field receipt_f[] = {
	F_FIX("cmid", REQ, proto_receipt, cmid, ID),
	F_FIX("acc", REQ, proto_receipt, account, ID),
	F_FIX("dev", REQ, proto_receipt, device, ID),
	F_U64("time", REQ, proto_receipt, time, 0, UINT64_MAX),
};
SCHEMA(receipt_s, "receipt", receipt_f, NULL);

/* ---- consent ---- */

static const struct proto__field consent_f[] = {
	F_BIN("rec", REQ, proto_consent, record, 1, PROTO_MAX_CONSENT_RECORD_BYTES),
	F_FIX("sig", REQ, proto_consent, sig, SIG),
};
SCHEMA(consent_s, "consent", consent_f, NULL);

static const struct proto__field consent_entry_f[] = {
	F_U32("kind", REQ, proto_consent_entry, kind, PROTO_CONSENT_GRANT, PROTO_CONSENT_WITHDRAW),
	F_BIN("rec", REQ, proto_consent_entry, record, 1, PROTO_MAX_CONSENT_RECORD_BYTES),
	F_FIX("sig", REQ, proto_consent_entry, sig, SIG),
	F_U64("time", REQ, proto_consent_entry, time, 0, UINT64_MAX),
};
SCHEMA(consent_entry_s, "consent_entry", consent_entry_f, NULL);

static const struct proto__field consents_f[] = {
	F_AMAP("list", REQ, proto_consents, list, count, 0, PROTO_MAX_CONSENTS, consent_entry_s),
};
SCHEMA(consents_s, "consents", consents_f, NULL);

/* ---- caseworker look-up and notices ---- */

static const struct proto__field citizen_lookup_f[] = {
	F_ASCII("cpr", REQ, proto_citizen_lookup, cpr, PROTO_MIN_CPR_BYTES, PROTO_MAX_CPR_BYTES),
};
SCHEMA(citizen_lookup_s, "citizen_lookup", citizen_lookup_f, NULL);

static const struct proto__field citizen_f[] = {
	F_BOOL("reach", REQ, proto_citizen, reachable),
	F_FIX("acc", OPT, proto_citizen, account, ID),
	F_AID("devs", OPT, proto_citizen, devices, device_count, 0, PROTO_MAX_DEVICES_PER_ACCOUNT),
};
SCHEMA_OPT(citizen_s, "citizen", citizen_f, 0x1, NULL);

static const struct proto__field consent_changed_f[] = {
	F_FIX("acc", REQ, proto_consent_changed, account, ID),
	F_SLUG("ten", REQ, proto_consent_changed, tenant),
	F_SLUG("unit", OPT, proto_consent_changed, unit),
	F_U32("kind", REQ, proto_consent_changed, kind, PROTO_CONSENT_GRANT, PROTO_CONSENT_WITHDRAW),
	F_U64("time", REQ, proto_consent_changed, time, 0, UINT64_MAX),
};
SCHEMA_OPT(consent_changed_s, "consent_changed", consent_changed_f, 0x1b, NULL);

static const struct proto__field devices_changed_f[] = {
	F_FIX("acc", REQ, proto_devices_changed, account, ID),
};
SCHEMA(devices_changed_s, "devices_changed", devices_changed_f, NULL);

static const struct proto__field unit_devices_changed_f[] = {
	F_SLUG("ten", REQ, proto_unit_devices_changed, tenant),
	F_SLUG("unit", REQ, proto_unit_devices_changed, unit),
};
SCHEMA(unit_devices_changed_s, "unit_devices_changed", unit_devices_changed_f, NULL);

static const struct proto__field consent_check_f[] = {
	F_FIX("acc", REQ, proto_consent_check, account, ID),
	F_SLUG("ten", REQ, proto_consent_check, tenant),
	F_SLUG("unit", REQ, proto_consent_check, unit),
};
SCHEMA(consent_check_s, "consent_check", consent_check_f, NULL);

static const struct proto__field consent_state_f[] = {
	F_BOOL("active", REQ, proto_consent_state, active),
};
SCHEMA(consent_state_s, "consent_state", consent_state_f, NULL);

/* ---- attachments ---- */

static const struct proto__field blob_put_f[] = {
	F_FIX("id", REQ, proto_blob_put, id, ID),
	F_U64("size", REQ, proto_blob_put, size, 1, PROTO_MAX_BLOB_BYTES),
	F_FIX("sha", REQ, proto_blob_put, sha256, PROTO_SHA256_BYTES),
};
SCHEMA(blob_put_s, "blob_put", blob_put_f, NULL);

static int check_blob_state(const void *body, const char **field)
{
	const proto_blob_state *b = body;
	if (b->have > b->size || (b->done && b->have != b->size)) {
		*field = "have";
		return PROTO_E_INVALID;
	}
	return 0;
}

static const struct proto__field blob_state_f[] = {
	F_FIX("id", REQ, proto_blob_state, id, ID),
	F_U64("size", REQ, proto_blob_state, size, 1, PROTO_MAX_BLOB_BYTES),
	F_U64("have", REQ, proto_blob_state, have, 0, PROTO_MAX_BLOB_BYTES),
	F_BOOL("done", OPT, proto_blob_state, done),
};
SCHEMA_OPT(blob_state_s, "blob_state", blob_state_f, 0x7, check_blob_state);

static const struct proto__field blob_chunk_f[] = {
	F_FIX("id", REQ, proto_blob_chunk, id, ID),
	F_U64("off", REQ, proto_blob_chunk, offset, 0, PROTO_MAX_BLOB_BYTES - 1),
	F_BIN("data", REQ, proto_blob_chunk, data, 1, PROTO_MAX_BLOB_CHUNK_BYTES),
};
SCHEMA(blob_chunk_s, "blob_chunk", blob_chunk_f, NULL);

static const struct proto__field blob_ref_f[] = {
	F_FIX("id", REQ, proto_blob_ref, id, ID),
};
SCHEMA(blob_ref_s, "blob_status", blob_ref_f, NULL);

static const struct proto__field blob_get_f[] = {
	F_FIX("id", REQ, proto_blob_get, id, ID),
	F_U64("off", REQ, proto_blob_get, offset, 0, PROTO_MAX_BLOB_BYTES - 1),
	F_U32("len", REQ, proto_blob_get, length, 1, PROTO_MAX_BLOB_CHUNK_BYTES),
};
SCHEMA(blob_get_s, "blob_get", blob_get_f, NULL);

static const struct proto__field blob_data_f[] = {
	F_FIX("id", REQ, proto_blob_data, id, ID),
	F_U64("off", REQ, proto_blob_data, offset, 0, PROTO_MAX_BLOB_BYTES - 1),
	F_BIN("data", REQ, proto_blob_data, data, 1, PROTO_MAX_BLOB_CHUNK_BYTES),
};
SCHEMA(blob_data_s, "blob_data", blob_data_f, NULL);

/* ---- type -> body schema ---- */

#define hello_schema hello_s
#define auth_schema auth_s
#define auth_ok_schema auth_ok_s
#define ok_schema empty_s
#define error_schema error_s
#define reg_schema register_s
#define registered_schema registered_s
#define devices_list_schema empty_s
#define devices_schema devices_s
#define device_revoke_schema device_ref_s
#define prekeys_upload_schema prekeys_upload_s
#define spk_rotate_schema spk_rotate_s
#define key_count_get_schema empty_s
#define key_count_schema key_count_s
#define prekeys_low_schema key_count_s
#define bundles_fetch_schema bundles_fetch_s
#define bundles_schema bundles_s
#define tenants_list_schema empty_s
#define tenants_schema tenants_s
#define units_list_schema units_list_s
#define units_schema units_s
#define device_set_get_schema target_s
#define device_set_schema device_set_s
#define send_schema send_s
#define stored_schema stored_s
#define deliver_schema deliver_s
#define ack_schema ack_s
#define receipt_schema receipt_s
#define expired_schema receipt_s
#define consent_grant_schema consent_s
#define consent_withdraw_schema consent_s
#define consent_list_schema empty_s
#define consents_schema consents_s
#define citizen_lookup_schema citizen_lookup_s
#define citizen_schema citizen_s
#define consent_changed_schema consent_changed_s
#define devices_changed_schema devices_changed_s
#define unit_devices_changed_schema unit_devices_changed_s
#define consent_check_schema consent_check_s
#define consent_state_schema consent_state_s
#define blob_put_schema blob_put_s
#define blob_state_schema blob_state_s
#define blob_chunk_schema blob_chunk_s
#define blob_status_schema blob_ref_s
#define blob_get_schema blob_get_s
#define blob_data_schema blob_data_s

const struct proto__schema *proto__schema_for(uint32_t type)
{
	switch (type) {
#define PROTO__TYPE_SCHEMA(name, num, wire, member, flags) \
	case num:                                           \
		return &member##_schema;
		PROTO_TYPE_MAP(PROTO__TYPE_SCHEMA)
#undef PROTO__TYPE_SCHEMA
	default:
		return NULL;
	}
}
