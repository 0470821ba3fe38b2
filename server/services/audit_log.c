/* SPDX-License-Identifier: MPL-2.0 */
#include "services/audit_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "wakks_storage.h"

/* What the request carries to the writer: everything the entry needs except the chain. */
struct audit_input {
	uint64_t time_ms;
	uint16_t type;
	uint8_t n_subjects;
	uint16_t details_len;
	uint8_t subjects[ID_AUDIT_MAX_SUBJECTS][ID_AUDIT_SUBJECT_BYTES];
	uint8_t details[]; /* details_len bytes */
};

/* Runs on the storage writer thread with the current head of the chain. */
static int build_entry(uint64_t prev_seq, const uint8_t prev_hash[STORE_AUDIT_HASH_BYTES],
		       const void *input, size_t input_len, uint8_t *out, size_t out_cap,
		       size_t *out_len, uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
	const struct audit_input *in = input;
	if (input_len < sizeof *in || input_len != sizeof *in + in->details_len)
		return -1;
	id_audit_entry *e = malloc(sizeof *e);
	if (!e)
		return -1;
	int rc = id_audit_build(prev_seq, prev_seq ? prev_hash : NULL, in->time_ms, in->type,
				(const uint8_t(*)[ID_AUDIT_SUBJECT_BYTES])in->subjects, in->n_subjects,
				in->details, in->details_len, e);
	int n = rc == 0 ? id_audit_encode(e, out, out_cap) : -1;
	if (n < 0 || (size_t)n + ID_HASH_BYTES > out_cap) {
		free(e);
		return -1;
	}
	/* Stored form: the encoding followed by its hash (what id_audit_decode reads). */
	memcpy(out + n, e->hash, ID_HASH_BYTES);
	memcpy(out_hash, e->hash, ID_HASH_BYTES);
	*out_len = (size_t)n + ID_HASH_BYTES;
	free(e);
	return 0;
}

int relay_audit_append(struct store_req *req, uint16_t type, uint64_t time_ms,
		       const uint8_t (*subjects)[16], size_t n, const void *details,
		       size_t details_len)
{
	if (n > ID_AUDIT_MAX_SUBJECTS || details_len > ID_AUDIT_DETAILS_MAX)
		return STORE_EINVAL;
	size_t len = sizeof(struct audit_input) + details_len;
	struct audit_input *in = calloc(1, len);
	if (!in)
		return STORE_ENOMEM;
	in->time_ms = time_ms;
	in->type = type;
	in->n_subjects = (uint8_t)n;
	in->details_len = (uint16_t)details_len;
	if (n)
		memcpy(in->subjects, subjects, n * ID_AUDIT_SUBJECT_BYTES);
	if (details_len)
		memcpy(in->details, details, details_len);
	int op = store_req_audit_append(req, build_entry, in, len);
	free(in);
	return op;
}

/* Entries verified per step: bounds memory whatever the length of the log. */
#define VERIFY_CHUNK 256

struct verify_ctx {
	id_audit_entry *entries;
	size_t n;
	int decode_failed;
	uint64_t decode_seq;
};

static int collect(uint64_t seq, const uint8_t *entry, size_t len, void *data)
{
	struct verify_ctx *v = data;
	if (id_audit_decode(entry, len, &v->entries[v->n]) != 0) {
		v->decode_failed = 1;
		v->decode_seq = seq;
		return 1;
	}
	v->n++;
	return 0;
}

int relay_audit_verify(struct store *store, uint64_t *entries, uint64_t *bad_seq)
{
	uint64_t head_seq;
	uint8_t head_hash[STORE_AUDIT_HASH_BYTES];
	int rc = store_audit_head(store, &head_seq, head_hash);
	if (rc != 0)
		return ID_ERR_IO;
	struct verify_ctx v = { .entries = calloc(VERIFY_CHUNK, sizeof(id_audit_entry)) };
	if (!v.entries)
		return ID_ERR_NOMEM;
	uint64_t prev_seq = 0, from = 1, checked = 0;
	uint8_t prev_hash[ID_HASH_BYTES] = { 0 };
	*bad_seq = 0;
	for (;;) {
		v.n = 0;
		int got = store_audit_iter(store, from, VERIFY_CHUNK, collect, &v);
		if (got < 0) {
			rc = ID_ERR_IO;
			break;
		}
		if (v.decode_failed) {
			*bad_seq = v.decode_seq;
			rc = ID_ERR_AUDIT_ENCODING;
			break;
		}
		bool last = v.n < VERIFY_CHUNK;
		size_t first_bad = 0;
		rc = id_audit_verify_chain(v.entries, v.n, prev_seq, prev_seq ? prev_hash : NULL,
					   last ? head_seq : 0, last ? head_hash : NULL, &first_bad);
		if (rc != 0) {
			/* The entry that does not follow from its predecessor; the head for truncation. */
			*bad_seq = first_bad < v.n ? v.entries[first_bad].seq : head_seq;
			checked += first_bad;
			break;
		}
		checked += v.n;
		if (last)
			break;
		prev_seq = v.entries[v.n - 1].seq;
		memcpy(prev_hash, v.entries[v.n - 1].hash, ID_HASH_BYTES);
		from = prev_seq + 1;
	}
	*entries = checked;
	free(v.entries);
	return rc;
}

struct export_ctx {
	FILE *f;
	long n;
	uint64_t last_seq;
};

const char *relay_audit_event_name(uint16_t type)
{
	switch (type) {
	case ID_AUDIT_CONFIG_LOADED: return "config_loaded";
	case ID_AUDIT_DEVICE_REGISTERED: return "device_registered";
	case ID_AUDIT_DEVICE_REVOKED: return "device_revoked";
	case ID_AUDIT_CONSENT_GIVEN: return "consent_given";
	case ID_AUDIT_CONSENT_WITHDRAWN: return "consent_withdrawn";
	case ID_AUDIT_ACCOUNT_ERASED: return "account_erased";
	case RELAY_AUDIT_CITIZEN_LOOKUP: return "citizen_lookup";
	default: return "unknown";
	}
}

/* What an entry's details mean, by type (the writers in handlers/ and admin/): the provider of a
 * registration, the reason of a revocation, tenant/unit of a consent, the caseworker's tenant of
 * a look-up, and the configuration's hash with the development flag. */
static const char *detail_name(uint16_t type)
{
	switch (type) {
	case ID_AUDIT_DEVICE_REGISTERED: return "idp";
	case ID_AUDIT_DEVICE_REVOKED: return "reason";
	case ID_AUDIT_CONSENT_GIVEN:
	case ID_AUDIT_CONSENT_WITHDRAWN: return "scope";
	case RELAY_AUDIT_CITIZEN_LOOKUP: return "tenant";
	default: return "detail";
	}
}

static bool printable(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] < 0x20 || b[i] >= 0x7f)
			return false;
	return n > 0;
}

/* The exported line: the entry as id_audit_to_json writes it (every field the chain's hashes are
 * computed over, so that an auditor can verify it without the relay), with what a SIEM reads
 * added: the event's name, its time in ISO 8601 UTC, the subjects' roles and the details in
 * words. */
static char *readable_json(const id_audit_entry *e)
{
	char *raw = id_audit_to_json(e);
	json_t *o = raw ? json_loads(raw, 0, NULL) : NULL;
	free(raw);
	if (!o)
		return NULL;
	json_object_set_new(o, "event", json_string(relay_audit_event_name(e->type)));
	time_t secs = (time_t)(e->time_ms / 1000);
	struct tm tm;
	char when[64];
	gmtime_r(&secs, &tm);
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(e->time_ms % 1000));
	json_object_set_new(o, "time", json_string(when));
	if (e->n_subjects == 2) {
		char hex[2 * ID_AUDIT_SUBJECT_BYTES + 1];
		sodium_bin2hex(hex, sizeof hex, e->subjects[0], ID_AUDIT_SUBJECT_BYTES);
		json_object_set_new(o, e->type == RELAY_AUDIT_CITIZEN_LOOKUP ? "caseworker_account"
									    : "account",
				    json_string(hex));
		sodium_bin2hex(hex, sizeof hex, e->subjects[1], ID_AUDIT_SUBJECT_BYTES);
		json_object_set_new(o, e->type == RELAY_AUDIT_CITIZEN_LOOKUP ? "citizen_account"
									    : "device",
				    json_string(hex));
	}
	if (e->type == ID_AUDIT_CONFIG_LOADED && e->details_len == 33) {
		char hex[65];
		sodium_bin2hex(hex, sizeof hex, e->details, 32);
		json_object_set_new(o, "config_sha256", json_string(hex));
		json_object_set_new(o, "dev_mode", json_boolean(e->details[32] != 0));
	} else if (printable(e->details, e->details_len)) {
		json_object_set_new(o, detail_name(e->type),
				    json_stringn((const char *)e->details, e->details_len));
	}
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return line;
}

static int export_one(uint64_t seq, const uint8_t *entry, size_t len, void *data)
{
	struct export_ctx *x = data;
	id_audit_entry e;
	char *line = id_audit_decode(entry, len, &e) == 0 ? readable_json(&e) : NULL;
	if (!line) {
		fprintf(x->f, "{\"seq\":%llu,\"error\":\"undecodable entry\"}\n", (unsigned long long)seq);
	} else {
		fprintf(x->f, "%s\n", line);
		free(line);
	}
	x->n++;
	x->last_seq = seq;
	return 0;
}

long relay_audit_export(struct store *store, void *file)
{
	struct export_ctx x = { .f = file };
	for (;;) {
		int got = store_audit_iter(store, x.last_seq + 1, VERIFY_CHUNK, export_one, &x);
		if (got < 0)
			return got;
		if (got < VERIFY_CHUNK)
			return x.n;
	}
}
