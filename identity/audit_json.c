/* SPDX-License-Identifier: MPL-2.0 */
/* The audit log's export form: one JSON object per entry, byte strings as lower-case hex. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

static json_t *hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	if (!s)
		return NULL;
	sodium_bin2hex(s, 2 * n + 1, p, n);
	json_t *j = json_string(s);
	free(s);
	return j;
}

char *id_audit_to_json(const id_audit_entry *e)
{
	if (!e || e->n_subjects > ID_AUDIT_MAX_SUBJECTS || e->details_len > ID_AUDIT_DETAILS_MAX)
		return NULL;
	json_t *subs = json_array();
	for (size_t i = 0; subs && i < e->n_subjects; i++)
		json_array_append_new(subs, hex(e->subjects[i], ID_AUDIT_SUBJECT_BYTES));
	json_t *o = json_pack("{s:I, s:I, s:i, s:o, s:o, s:o, s:o}", "seq", (json_int_t)e->seq, "time_ms",
			      (json_int_t)e->time_ms, "type", (int)e->type, "subjects", subs, "details",
			      hex(e->details, e->details_len), "prev_hash", hex(e->prev_hash, ID_HASH_BYTES),
			      "hash", hex(e->hash, ID_HASH_BYTES));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

/* Decodes exactly n bytes of hex. */
static int unhex(const json_t *j, uint8_t *out, size_t n, size_t *got)
{
	const char *s = json_string_value(j);
	size_t len = 0;
	if (!s || strlen(s) > 2 * n ||
	    sodium_hex2bin(out, n, s, strlen(s), NULL, &len, NULL) != 0 || (!got && len != n))
		return ID_ERR_AUDIT_ENCODING;
	if (got)
		*got = len;
	return 0;
}

static int uint_member(const json_t *o, const char *name, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return ID_ERR_AUDIT_ENCODING;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int id_audit_from_json(const char *line, size_t len, id_audit_entry *out)
{
	if (!line || !out)
		return ID_ERR_INVALID_ARG;
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	id_audit_entry e;
	memset(&e, 0, sizeof e);
	uint64_t seq = 0, time_ms = 0, type = 0;
	size_t dlen = 0;
	json_t *subs = json_object_get(o, "subjects");
	int rc = json_is_object(o) && json_is_array(subs) && json_array_size(subs) <= ID_AUDIT_MAX_SUBJECTS
			 ? 0
			 : ID_ERR_AUDIT_ENCODING;
	if (rc == 0)
		rc = uint_member(o, "seq", INT64_MAX, &seq);
	if (rc == 0)
		rc = uint_member(o, "time_ms", INT64_MAX, &time_ms);
	if (rc == 0)
		rc = uint_member(o, "type", UINT16_MAX, &type);
	for (size_t i = 0; rc == 0 && i < json_array_size(subs); i++)
		rc = unhex(json_array_get(subs, i), e.subjects[i], ID_AUDIT_SUBJECT_BYTES, NULL);
	if (rc == 0)
		rc = unhex(json_object_get(o, "details"), e.details, ID_AUDIT_DETAILS_MAX, &dlen);
	if (rc == 0)
		rc = unhex(json_object_get(o, "prev_hash"), e.prev_hash, ID_HASH_BYTES, NULL);
	if (rc == 0)
		rc = unhex(json_object_get(o, "hash"), e.hash, ID_HASH_BYTES, NULL);
	size_t n_subjects = json_array_size(subs);
	json_decref(o); /* subs belongs to o */
	if (rc != 0)
		return rc;
	e.seq = seq;
	e.time_ms = time_ms;
	e.type = (uint16_t)type;
	e.n_subjects = (uint8_t)n_subjects;
	e.details_len = (uint16_t)dlen;
	*out = e;
	return 0;
}
