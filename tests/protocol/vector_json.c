/* SPDX-License-Identifier: MPL-2.0 */
/* proto_frame <-> vector JSON, walking the codec's schema tables (see vector_json.h). */
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"
#include "vector_json.h"
#include "wakks_bytes.h"

uint8_t *hex_decode(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	if (n % 2)
		return NULL;
	uint8_t *out = malloc(n / 2 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = wakks_hexval(hex[2 * i]), lo = wakks_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

static const uint8_t *arena_hex(struct arena *a, const json_t *j, size_t *len)
{
	if (!json_is_string(j))
		return NULL;
	size_t n = 0;
	uint8_t *tmp = hex_decode(json_string_value(j), &n);
	if (!tmp || a->len + n + 1 > a->cap) {
		free(tmp);
		return NULL;
	}
	uint8_t *p = a->buf + a->len;
	memcpy(p, tmp, n);
	a->len += n + 1;
	free(tmp);
	*len = n;
	return p;
}

static int body_from_json(const struct proto__schema *s, const json_t *o, uint8_t *base,
			  struct arena *a);

static int value_from_json(const struct proto__field *f, const json_t *v, uint8_t *base,
			   struct arena *a)
{
	uint8_t *p = base + f->offset;
	size_t n = 0;
	switch (f->kind) {
	case PROTO__K_U32:
		if (!json_is_integer(v))
			return -1;
		*(uint32_t *)p = (uint32_t)json_integer_value(v);
		return 0;
	case PROTO__K_U64:
		if (!json_is_integer(v))
			return -1;
		*(uint64_t *)p = (uint64_t)json_integer_value(v);
		return 0;
	case PROTO__K_BOOL:
		*(bool *)p = json_is_true(v);
		return json_is_boolean(v) ? 0 : -1;
	case PROTO__K_FIXBIN: {
		const uint8_t *b = arena_hex(a, v, &n);
		if (!b || n != f->min)
			return -1;
		*(const uint8_t **)p = b;
		return 0;
	}
	case PROTO__K_BIN: {
		const uint8_t *b = arena_hex(a, v, &n);
		if (!b)
			return -1;
		*(proto_bytes *)p = (proto_bytes){ b, n };
		return 0;
	}
	case PROTO__K_TEXT:
	case PROTO__K_ASCII:
	case PROTO__K_SLUG:
		if (!json_is_string(v))
			return -1;
		*(proto_str *)p = (proto_str){ json_string_value(v), json_string_length(v) };
		return 0;
	case PROTO__K_MAP:
		if (body_from_json(f->sub, v, p, a) != 0)
			return -1;
		if (f->aux != PROTO__NO_AUX)
			*(bool *)(base + f->aux) = true;
		return 0;
	case PROTO__K_ARRAY: {
		if (!json_is_array(v) || json_array_size(v) > f->max)
			return -1;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			uint8_t *ep = p + i * f->elem_size;
			if (f->elem_kind == PROTO__K_MAP) {
				if (body_from_json(f->sub, e, ep, a) != 0)
					return -1;
			} else {
				const uint8_t *b = arena_hex(a, e, &n);
				if (!b || n != f->elem_len)
					return -1;
				*(const uint8_t **)ep = b;
			}
		}
		*(uint32_t *)(base + f->aux) = (uint32_t)json_array_size(v);
		return 0;
	}
	}
	return -1;
}

static int body_from_json(const struct proto__schema *s, const json_t *o, uint8_t *base,
			  struct arena *a)
{
	if (!json_is_object(o))
		return -1;
	for (unsigned i = 0; i < s->nfields; i++) {
		const json_t *v = json_object_get(o, s->fields[i].key);
		if (v && value_from_json(&s->fields[i], v, base, a) != 0)
			return -1;
	}
	return 0;
}

int frame_from_json(const json_t *j, proto_frame *f, struct arena *a)
{
	json_t *t = json_object_get(j, "type"), *r = json_object_get(j, "request_id");
	if (!json_is_integer(t) || !json_is_integer(r))
		return -1;
	proto_frame_init(f, (uint32_t)json_integer_value(t), (uint32_t)json_integer_value(r));
	const struct proto__schema *s = proto__schema_for(f->type);
	if (!s)
		return -1;
	return body_from_json(s, json_object_get(j, "body"), (uint8_t *)&f->body, a);
}

static char *hex_encode(const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = d[p[i] >> 4];
		s[2 * i + 1] = d[p[i] & 15];
	}
	s[2 * n] = 0;
	return s;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	char *s = hex_encode(p, n);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static json_t *body_to_json(const struct proto__schema *s, const uint8_t *base);

static json_t *value_to_json(const struct proto__field *f, const uint8_t *base)
{
	const uint8_t *p = base + f->offset;
	switch (f->kind) {
	case PROTO__K_U32:
		return json_integer(*(const uint32_t *)p);
	case PROTO__K_U64:
		return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTO__K_BOOL:
		return json_boolean(*(const bool *)p);
	case PROTO__K_FIXBIN:
		return hex_json(*(const uint8_t *const *)p, (size_t)f->min);
	case PROTO__K_BIN:
		return hex_json(((const proto_bytes *)p)->ptr, ((const proto_bytes *)p)->len);
	case PROTO__K_TEXT:
	case PROTO__K_ASCII:
	case PROTO__K_SLUG:
		return json_stringn(((const proto_str *)p)->ptr, ((const proto_str *)p)->len);
	case PROTO__K_MAP:
		return body_to_json(f->sub, p);
	case PROTO__K_ARRAY: {
		json_t *arr = json_array();
		uint32_t n = *(const uint32_t *)(base + f->aux);
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *ep = p + (size_t)i * f->elem_size;
			json_array_append_new(arr, f->elem_kind == PROTO__K_MAP
							   ? body_to_json(f->sub, ep)
							   : hex_json(*(const uint8_t *const *)ep, f->elem_len));
		}
		return arr;
	}
	}
	return json_null();
}

static json_t *body_to_json(const struct proto__schema *s, const uint8_t *base)
{
	json_t *o = json_object();
	for (unsigned i = 0; i < s->nfields; i++)
		if (proto__field_present(&s->fields[i], base))
			json_object_set_new(o, s->fields[i].key, value_to_json(&s->fields[i], base));
	return o;
}

json_t *frame_to_json(const proto_frame *f)
{
	const struct proto__schema *s = proto__schema_for(f->type);
	if (!s)
		return NULL;
	return json_pack("{s:I, s:I, s:o}", "type", (json_int_t)f->type, "request_id",
			 (json_int_t)f->request_id, "body", body_to_json(s, (const uint8_t *)&f->body));
}
