/* SPDX-License-Identifier: MPL-2.0 */
/* Canonical encoding with msgpack-c's packer into a caller buffer: keys in schema order, the
 * smallest msgpack form of every integer and length, absent optional fields omitted. */
#include <msgpack.h>
#include <stddef.h>
#include <string.h>

#include "schema_internal.h"

struct proto__out {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int overflow;
};

static int out_write(void *data, const char *p, size_t n)
{
	struct proto__out *o = data;
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return -1;
	}
	if (n > 0) /* msgpack-c passes NULL with n == 0 for empty bodies */
		memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

static void pack_body(msgpack_packer *pk, const struct proto__schema *s, const uint8_t *base);

static void pack_key(msgpack_packer *pk, const struct proto__field *f)
{
	msgpack_pack_str(pk, f->key_len);
	msgpack_pack_str_body(pk, f->key, f->key_len);
}

static void pack_value(msgpack_packer *pk, const struct proto__field *f, const uint8_t *base)
{
	const uint8_t *p = base + f->offset;
	switch (f->kind) {
	case PROTO__K_U32:
		msgpack_pack_uint32(pk, *(const uint32_t *)p);
		break;
	case PROTO__K_U64:
		msgpack_pack_uint64(pk, *(const uint64_t *)p);
		break;
	case PROTO__K_BOOL:
		if (*(const bool *)p)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case PROTO__K_FIXBIN:
		msgpack_pack_bin(pk, (size_t)f->min);
		msgpack_pack_bin_body(pk, *(const uint8_t *const *)p, (size_t)f->min);
		break;
	case PROTO__K_BIN: {
		const proto_bytes *b = (const proto_bytes *)p;
		msgpack_pack_bin(pk, b->len);
		msgpack_pack_bin_body(pk, b->ptr, b->len);
		break;
	}
	case PROTO__K_TEXT:
	case PROTO__K_ASCII:
	case PROTO__K_SLUG: {
		const proto_str *s = (const proto_str *)p;
		msgpack_pack_str(pk, s->len);
		msgpack_pack_str_body(pk, s->ptr, s->len);
		break;
	}
	case PROTO__K_MAP:
		pack_body(pk, f->sub, p);
		break;
	case PROTO__K_ARRAY: {
		uint32_t n = *(const uint32_t *)(base + f->aux);
		msgpack_pack_array(pk, n);
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *ep = p + (size_t)i * f->elem_size;
			if (f->elem_kind == PROTO__K_MAP) {
				pack_body(pk, f->sub, ep);
			} else {
				msgpack_pack_bin(pk, f->elem_len);
				msgpack_pack_bin_body(pk, *(const uint8_t *const *)ep, f->elem_len);
			}
		}
		break;
	}
	}
}

static void pack_body(msgpack_packer *pk, const struct proto__schema *s, const uint8_t *base)
{
	size_t n = 0;
	for (unsigned i = 0; i < s->nfields; i++)
		n += proto__field_present(&s->fields[i], base) ? 1 : 0;
	msgpack_pack_map(pk, n);
	for (unsigned i = 0; i < s->nfields; i++) {
		const struct proto__field *f = &s->fields[i];
		if (!proto__field_present(f, base))
			continue;
		pack_key(pk, f);
		pack_value(pk, f, base);
	}
}

int proto_frame_encode(const proto_frame *f, uint8_t *buf, size_t cap, size_t *out_len)
{
	if (f == NULL || buf == NULL || out_len == NULL)
		return PROTO_E_BAD_ARGUMENT;
	int rc = proto_frame_validate(f);
	if (rc != 0)
		return rc;

	/* Never write more than a frame may hold, whatever the buffer. */
	struct proto__out out = { buf, cap > PROTO_MAX_FRAME_BYTES ? PROTO_MAX_FRAME_BYTES : cap, 0, 0 };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &out, out_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, f->type);
	msgpack_pack_uint32(&pk, f->request_id);
	pack_body(&pk, proto__schema_for(f->type), (const uint8_t *)&f->body);
	if (out.overflow)
		return cap > PROTO_MAX_FRAME_BYTES ? PROTO_E_TOO_LARGE : PROTO_E_NO_SPACE;
	*out_len = out.len;
	return 0;
}

/* Bytes of the body member a type uses; the whole union for an unknown type. */
static size_t body_size(uint32_t type)
{
	switch (type) {
#define PROTO__BODY_SIZE(name, num, wire, member, flags) \
	case num:                                        \
		return sizeof(((proto_frame *)0)->body.member);
		PROTO_TYPE_MAP(PROTO__BODY_SIZE)
#undef PROTO__BODY_SIZE
	default:
		return sizeof(((proto_frame *)0)->body);
	}
}

void proto_frame_init(proto_frame *f, uint32_t type, uint32_t request_id)
{
	/* Only the type's own body member: the union is ~40 KiB (bundles at their limit) and most
	 * frames use a few dozen bytes of it; zeroing all of it per frame cost more than encoding. */
	memset(f, 0, offsetof(proto_frame, body));
	memset(&f->body, 0, body_size(type));
	f->type = type;
	f->request_id = request_id;
}
