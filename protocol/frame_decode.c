/* SPDX-License-Identifier: MPL-2.0 */
/* Frame decoding: scan the bytes, let msgpack-c build its object tree in a zone, then walk the
 * tree against the body schema, storing views into the caller's buffer. */
#include <msgpack.h>
#include <string.h>

#include "schema_internal.h"
#include "zone_internal.h"

static int decode_map(const msgpack_object *o, const struct proto__schema *s, uint8_t *base,
		      const char **field);

/* Sets every optional field of a schema to its "absent" value without touching the rest of the
 * struct (required fields need no reset: the map either sets them or fails). */
static void set_absent(const struct proto__schema *s, uint8_t *base)
{
	for (unsigned i = 0; i < s->nfields; i++) {
		const struct proto__field *f = &s->fields[i];
		if (f->required)
			continue;
		uint8_t *p = base + f->offset;
		switch (f->kind) {
		case PROTO__K_U32:
			*(uint32_t *)p = 0;
			break;
		case PROTO__K_U64:
			*(uint64_t *)p = 0;
			break;
		case PROTO__K_BOOL:
			*(bool *)p = false;
			break;
		case PROTO__K_FIXBIN:
			*(const uint8_t **)p = NULL;
			break;
		case PROTO__K_BIN:
			*(proto_bytes *)p = (proto_bytes){ NULL, 0 };
			break;
		case PROTO__K_TEXT:
		case PROTO__K_ASCII:
		case PROTO__K_SLUG:
			*(proto_str *)p = (proto_str){ NULL, 0 };
			break;
		case PROTO__K_MAP:
			*(bool *)(base + f->aux) = false; /* optional maps always have a flag */
			break;
		case PROTO__K_ARRAY:
			*(uint32_t *)(base + f->aux) = 0;
			break;
		}
	}
}

static int decode_uint(const msgpack_object *v, const struct proto__field *f, uint64_t *out)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return PROTO_E_WRONG_TYPE;
	if (v->via.u64 < f->min || v->via.u64 > f->max)
		return PROTO_E_OUT_OF_RANGE;
	*out = v->via.u64;
	return 0;
}

/* A bin or str of f->min..f->max bytes: too long is over a limit, too short a bad length. */
static int check_len(uint32_t len, uint64_t min, uint64_t max)
{
	if (len > max)
		return PROTO_E_OVER_LIMIT;
	if (len < min)
		return PROTO_E_BAD_LENGTH;
	return 0;
}

static int decode_value(const msgpack_object *v, const struct proto__field *f, uint8_t *base,
			const char **field)
{
	uint8_t *p = base + f->offset;
	uint64_t u;
	int rc;

	switch (f->kind) {
	case PROTO__K_U32:
		if ((rc = decode_uint(v, f, &u)) != 0)
			return rc;
		*(uint32_t *)p = (uint32_t)u;
		return 0;
	case PROTO__K_U64:
		if ((rc = decode_uint(v, f, &u)) != 0)
			return rc;
		*(uint64_t *)p = u;
		return 0;
	case PROTO__K_BOOL:
		if (v->type != MSGPACK_OBJECT_BOOLEAN)
			return PROTO_E_WRONG_TYPE;
		*(bool *)p = v->via.boolean;
		return 0;
	case PROTO__K_FIXBIN:
		if (v->type != MSGPACK_OBJECT_BIN)
			return PROTO_E_WRONG_TYPE;
		if (v->via.bin.size != f->min)
			return PROTO_E_BAD_LENGTH;
		*(const uint8_t **)p = (const uint8_t *)v->via.bin.ptr;
		return 0;
	case PROTO__K_BIN:
		if (v->type != MSGPACK_OBJECT_BIN)
			return PROTO_E_WRONG_TYPE;
		if ((rc = check_len(v->via.bin.size, f->min, f->max)) != 0)
			return rc;
		/* msgpack-c leaves ptr NULL for an empty bin; a present field never has a NULL view. */
		*(proto_bytes *)p = (proto_bytes){ v->via.bin.ptr ? (const uint8_t *)v->via.bin.ptr
								  : (const uint8_t *)"",
						   v->via.bin.size };
		return 0;
	case PROTO__K_TEXT:
	case PROTO__K_ASCII:
	case PROTO__K_SLUG:
		if (v->type != MSGPACK_OBJECT_STR)
			return PROTO_E_WRONG_TYPE;
		if ((rc = check_len(v->via.str.size, f->min, f->max)) != 0)
			return rc;
		if ((rc = proto__check_string(f->kind, (const uint8_t *)v->via.str.ptr,
					      v->via.str.size)) != 0)
			return rc;
		*(proto_str *)p = (proto_str){ v->via.str.ptr ? v->via.str.ptr : "", v->via.str.size };
		return 0;
	case PROTO__K_MAP:
		if ((rc = decode_map(v, f->sub, p, field)) != 0)
			return rc;
		if (f->aux != PROTO__NO_AUX)
			*(bool *)(base + f->aux) = true;
		return 0;
	case PROTO__K_ARRAY: {
		if (v->type != MSGPACK_OBJECT_ARRAY)
			return PROTO_E_WRONG_TYPE;
		uint32_t n = v->via.array.size;
		if ((rc = check_len(n, f->min, f->max)) != 0)
			return rc;
		const msgpack_object *e = v->via.array.ptr;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t *ep = p + (size_t)i * f->elem_size;
			if (f->elem_kind == PROTO__K_MAP) {
				if ((rc = decode_map(&e[i], f->sub, ep, field)) != 0)
					return rc;
			} else { /* FIXBIN ids */
				if (e[i].type != MSGPACK_OBJECT_BIN)
					return PROTO_E_WRONG_TYPE;
				if (e[i].via.bin.size != f->elem_len)
					return PROTO_E_BAD_LENGTH;
				*(const uint8_t **)ep = (const uint8_t *)e[i].via.bin.ptr;
			}
		}
		*(uint32_t *)(base + f->aux) = n;
		return 0;
	}
	}
	return PROTO_E_BAD_ARGUMENT;
}

static inline int key_eq(const struct proto__field *f, const char *k, uint32_t len)
{
	if (f->key_len != len || f->key[0] != k[0]) /* keys are never empty */
		return 0;
	if (len == 1)
		return 1;
	if (f->key[1] != k[1])
		return 0;
	for (uint32_t i = 2; i < len; i++)
		if (f->key[i] != k[i])
			return 0;
	return 1;
}

/* Index of the field named k, or s->nfields. Canonical frames list keys in schema order, so the
 * search starts at the field after the previous match. */
static unsigned find_field(const struct proto__schema *s, const char *k, uint32_t len, unsigned next)
{
	unsigned n = s->nfields;
	for (unsigned j = next; j < n; j++)
		if (key_eq(&s->fields[j], k, len))
			return j;
	for (unsigned j = 0; j < next && j < n; j++)
		if (key_eq(&s->fields[j], k, len))
			return j;
	return n;
}

/* 1 if an unknown key equal to k appears among kv[0..i). */
static int unknown_seen_before(const msgpack_object_kv *kv, uint32_t i, const msgpack_object *k)
{
	for (uint32_t j = 0; j < i; j++)
		if (kv[j].key.type == MSGPACK_OBJECT_STR && kv[j].key.via.str.size == k->via.str.size &&
		    (k->via.str.size == 0 || /* msgpack-c gives empty strings a NULL ptr */
		     memcmp(kv[j].key.via.str.ptr, k->via.str.ptr, k->via.str.size) == 0))
			return 1;
	return 0;
}

static int decode_map(const msgpack_object *o, const struct proto__schema *s, uint8_t *base,
		      const char **field)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return PROTO_E_WRONG_TYPE;
	uint32_t n = o->via.map.size;
	if (n > PROTO_MAX_MAP_KEYS)
		return PROTO_E_OVER_LIMIT;

	uint32_t required = s->required;
	if (required != (1u << s->nfields) - 1u)
		set_absent(s, base);
	uint32_t seen = 0;
	unsigned next = 0;
	const msgpack_object_kv *kv = o->via.map.ptr;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *k = &kv[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			return PROTO_E_WRONG_TYPE;
		if (k->via.str.size == 0) { /* never a known key; msgpack-c gives it a NULL ptr */
			if (unknown_seen_before(kv, i, k))
				return PROTO_E_DUPLICATE_FIELD;
			continue;
		}
		unsigned j = find_field(s, k->via.str.ptr, k->via.str.size, next);
		if (j == s->nfields) {
			/* Unknown key: skipped for forward compatibility, but never twice. */
			if (unknown_seen_before(kv, i, k))
				return PROTO_E_DUPLICATE_FIELD;
			continue;
		}
		const struct proto__field *f = &s->fields[j];
		if (seen & (1u << j)) {
			*field = f->key;
			return PROTO_E_DUPLICATE_FIELD;
		}
		seen |= 1u << j;
		next = j + 1;
		const msgpack_object *v = &kv[i].val;
		if (f->kind == PROTO__K_FIXBIN) { /* ids, keys, signatures: the most frequent */
			if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != f->min) {
				*field = f->key;
				return v->type != MSGPACK_OBJECT_BIN ? PROTO_E_WRONG_TYPE
								     : PROTO_E_BAD_LENGTH;
			}
			*(const uint8_t **)(base + f->offset) = (const uint8_t *)v->via.bin.ptr;
			continue;
		}
		const char *inner = NULL; /* set by a nested map that fails */
		int rc = decode_value(v, f, base, &inner);
		if (rc != 0) {
			*field = inner ? inner : f->key;
			return rc;
		}
	}
	if ((seen & required) != required) {
		for (unsigned j = 0; j < s->nfields; j++) {
			if (s->fields[j].required && !(seen & (1u << j))) {
				*field = s->fields[j].key;
				return PROTO_E_MISSING_FIELD;
			}
		}
	}
	if (s->check) {
		const char *where = "";
		int rc = s->check(base, &where);
		if (rc != 0) {
			*field = where;
			return rc;
		}
	}
	return 0; /* *field is written on failure only */
}

/* The three header elements [type, request_id, body]. */
static int decode_header(const msgpack_object *root, uint32_t *type, uint32_t *rid)
{
	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 3)
		return PROTO_E_BAD_SHAPE;
	const msgpack_object *e = root->via.array.ptr;
	if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || e[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return PROTO_E_BAD_SHAPE;
	if (e[0].via.u64 > UINT32_MAX || e[1].via.u64 > UINT32_MAX)
		return PROTO_E_OUT_OF_RANGE;
	if (e[2].type != MSGPACK_OBJECT_MAP)
		return PROTO_E_BAD_SHAPE;
	*type = (uint32_t)e[0].via.u64;
	*rid = (uint32_t)e[1].via.u64;
	return 0;
}

int proto_frame_decode_diag(const uint8_t *buf, size_t len, proto_frame *out, const char **field)
{
	const char *where = "";
	msgpack_zone *zone;
	msgpack_object root;
	size_t off = 0;
	uint32_t type, rid;
	int rc;

	if (buf == NULL || out == NULL) {
		rc = PROTO_E_BAD_ARGUMENT;
		goto out;
	}
	if (len > PROTO_MAX_FRAME_BYTES) {
		rc = PROTO_E_TOO_LARGE;
		goto out;
	}
	if ((rc = proto__scan(buf, len)) != 0)
		goto out;
	if ((zone = proto__zone_acquire()) == NULL) {
		rc = PROTO_E_NOMEM;
		goto out;
	}
	switch (msgpack_unpack((const char *)buf, len, &off, zone, &root)) {
	case MSGPACK_UNPACK_SUCCESS:
		rc = 0;
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rc = PROTO_E_NOMEM;
		break;
	default: /* the scan accepted it; msgpack-c disagreeing is a malformed frame all the same */
		rc = PROTO_E_MALFORMED;
		break;
	}
	if (rc == 0)
		rc = decode_header(&root, &type, &rid);
	const struct proto__schema *s = NULL;
	if (rc == 0 && (s = proto__schema_for(type)) == NULL)
		rc = PROTO_E_UNKNOWN_TYPE;
	if (rc == 0)
		rc = proto__check_request_id(proto_type_flags(type), rid);
	if (rc == 0) {
		out->type = type;
		out->request_id = rid;
		rc = decode_map(&root.via.array.ptr[2], s, (uint8_t *)&out->body, &where);
		if (rc != 0)
			out->type = PROTO_T_NONE;
	}
	proto__zone_release(zone);
out:
	if (rc != 0 && field != NULL)
		*field = where;
	return rc;
}

int proto_frame_decode(const uint8_t *buf, size_t len, proto_frame *out)
{
	return proto_frame_decode_diag(buf, len, out, NULL);
}
