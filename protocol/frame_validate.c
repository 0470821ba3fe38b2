/* SPDX-License-Identifier: MPL-2.0 */
/* Validation of caller-built frames against the same schemas the decoder enforces, so a frame
 * this library encodes is always one it would accept. */
#include "schema_internal.h"

int proto__field_present(const struct proto__field *f, const uint8_t *base)
{
	const uint8_t *p = base + f->offset;
	if (f->required)
		return 1;
	switch (f->kind) {
	case PROTO__K_U32:
		return *(const uint32_t *)p != 0;
	case PROTO__K_U64:
		return *(const uint64_t *)p != 0;
	case PROTO__K_BOOL:
		return *(const bool *)p;
	case PROTO__K_FIXBIN:
		return *(const uint8_t *const *)p != NULL;
	case PROTO__K_BIN:
		return ((const proto_bytes *)p)->ptr != NULL;
	case PROTO__K_TEXT:
	case PROTO__K_ASCII:
	case PROTO__K_SLUG:
		return ((const proto_str *)p)->ptr != NULL;
	case PROTO__K_MAP:
		return f->aux == PROTO__NO_AUX || *(const bool *)(base + f->aux);
	case PROTO__K_ARRAY:
		return *(const uint32_t *)(base + f->aux) != 0;
	}
	return 0;
}

static int check_len(size_t len, uint64_t min, uint64_t max)
{
	if (len > max)
		return PROTO_E_OVER_LIMIT;
	if (len < min)
		return PROTO_E_BAD_LENGTH;
	return 0;
}

static int validate_value(const struct proto__field *f, const uint8_t *base, const char **field)
{
	const uint8_t *p = base + f->offset;
	int rc;

	switch (f->kind) {
	case PROTO__K_U32: {
		uint32_t v = *(const uint32_t *)p;
		return v < f->min || v > f->max ? PROTO_E_OUT_OF_RANGE : 0;
	}
	case PROTO__K_U64: {
		uint64_t v = *(const uint64_t *)p;
		return v < f->min || v > f->max ? PROTO_E_OUT_OF_RANGE : 0;
	}
	case PROTO__K_BOOL:
		return 0;
	case PROTO__K_FIXBIN:
		return *(const uint8_t *const *)p != NULL ? 0 : PROTO_E_MISSING_FIELD;
	case PROTO__K_BIN: {
		const proto_bytes *b = (const proto_bytes *)p;
		if (b->ptr == NULL)
			return b->len == 0 ? PROTO_E_MISSING_FIELD : PROTO_E_BAD_ARGUMENT;
		return check_len(b->len, f->min, f->max);
	}
	case PROTO__K_TEXT:
	case PROTO__K_ASCII:
	case PROTO__K_SLUG: {
		const proto_str *s = (const proto_str *)p;
		if (s->ptr == NULL)
			return s->len == 0 ? PROTO_E_MISSING_FIELD : PROTO_E_BAD_ARGUMENT;
		if ((rc = check_len(s->len, f->min, f->max)) != 0)
			return rc;
		return proto__check_string(f->kind, (const uint8_t *)s->ptr, s->len);
	}
	case PROTO__K_MAP:
		return proto__validate_body(f->sub, p, field);
	case PROTO__K_ARRAY: {
		uint32_t n = *(const uint32_t *)(base + f->aux);
		if ((rc = check_len(n, f->min, f->max)) != 0)
			return rc;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *ep = p + (size_t)i * f->elem_size;
			if (f->elem_kind == PROTO__K_MAP) {
				if ((rc = proto__validate_body(f->sub, ep, field)) != 0)
					return rc;
			} else if (*(const uint8_t *const *)ep == NULL) {
				return PROTO_E_MISSING_FIELD;
			}
		}
		return 0;
	}
	}
	return PROTO_E_BAD_ARGUMENT;
}

int proto__validate_body(const struct proto__schema *s, const uint8_t *base, const char **field)
{
	for (unsigned i = 0; i < s->nfields; i++) {
		const struct proto__field *f = &s->fields[i];
		if (!proto__field_present(f, base))
			continue;
		*field = f->key;
		int rc = validate_value(f, base, field);
		if (rc != 0)
			return rc;
	}
	if (s->check) {
		int rc = s->check(base, field);
		if (rc != 0)
			return rc;
	}
	*field = "";
	return 0;
}

int proto_frame_validate(const proto_frame *f)
{
	const char *field = "";
	if (f == NULL)
		return PROTO_E_BAD_ARGUMENT;
	const struct proto__schema *s = proto__schema_for(f->type);
	if (s == NULL)
		return PROTO_E_UNKNOWN_TYPE;
	int rc = proto__check_request_id(proto_type_flags(f->type), f->request_id);
	if (rc != 0)
		return rc;
	return proto__validate_body(s, (const uint8_t *)&f->body, &field);
}
