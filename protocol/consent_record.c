/* SPDX-License-Identifier: MPL-2.0 */
/* Consent records (spec/consent.md §2-§3), byte by byte. */
#include "wakks_consent_record.h"

#include <string.h>

#include "wakks_bytes.h"

struct reader {
	const uint8_t *p, *end;
	const char *why;
};

static const uint8_t *take(struct reader *r, size_t n, const char *what)
{
	if (r->why)
		return NULL;
	if ((size_t)(r->end - r->p) < n) {
		r->why = what;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	return at;
}

static proto_str str8(struct reader *r, size_t min, size_t max, const char *what)
{
	proto_str v = { NULL, 0 };
	const uint8_t *l = take(r, 1, what);
	if (!l)
		return v;
	if (*l < min || *l > max) {
		r->why = what;
		return v;
	}
	v.len = *l;
	v.ptr = (const char *)take(r, v.len, what);
	return v;
}

int proto_consent_record_parse(const uint8_t *buf, size_t len, proto_consent_record *out,
			       const char **why)
{
	struct reader r = { buf, buf + len, NULL };
	proto_consent_record c;
	const uint8_t *version = take(&r, 1, "record truncated");
	if (version && *version != PROTO_CONSENT_RECORD_VERSION)
		r.why = "unknown record version";
	const uint8_t *kind = take(&r, 1, "record truncated");
	if (kind && *kind != 1 && *kind != 2)
		r.why = "kind is neither grant nor withdrawal";
	c.kind = kind ? *kind : 0;
	c.account = take(&r, 16, "record truncated");
	c.device = take(&r, 16, "record truncated");
	c.tenant = str8(&r, 1, PROTO_MAX_SLUG_BYTES, "tenant");
	c.unit = str8(&r, 0, PROTO_MAX_SLUG_BYTES, "unit");
	c.purpose = str8(&r, 1, 64, "purpose");
	c.text_version = str8(&r, 1, 32, "text_version");
	c.text_sha256 = take(&r, 32, "record truncated");
	c.language = str8(&r, 2, 8, "language");
	c.client_version = str8(&r, 1, 64, "client_version");
	const uint8_t *t = take(&r, 8, "record truncated");
	if (!r.why && r.p != r.end)
		r.why = "bytes follow the record";
	if (r.why) {
		*why = r.why;
		return PROTO_E_INVALID;
	}
	c.time_ms = wakks_load_be64(t);
	*out = c;
	return 0;
}

struct writer {
	uint8_t *p;
	size_t cap, len;
};

static void put(struct writer *w, const void *b, size_t n)
{
	if (w->cap - w->len >= n)
		memcpy(w->p + w->len, b, n);
	w->len += n; /* past cap: only measured, refused below */
}

static void put_str8(struct writer *w, proto_str s)
{
	uint8_t l = (uint8_t)s.len;
	put(w, &l, 1);
	put(w, s.ptr, s.len);
}

static bool within(proto_str s, size_t min, size_t max)
{
	return s.len >= min && s.len <= max && (s.ptr || s.len == 0);
}

int proto_consent_record_encode(const proto_consent_record *r, uint8_t *buf, size_t cap,
				size_t *out_len)
{
	if (!r || !buf || !out_len || (r->kind != 1 && r->kind != 2) || !r->account || !r->device ||
	    !r->text_sha256 || !proto_slug_valid(r->tenant.ptr, r->tenant.len) ||
	    (r->unit.len && !proto_slug_valid(r->unit.ptr, r->unit.len)) ||
	    !within(r->purpose, 1, 64) || !within(r->text_version, 1, 32) ||
	    !within(r->language, 2, 8) || !within(r->client_version, 1, 64))
		return PROTO_E_BAD_ARGUMENT;
	struct writer w = { buf, cap, 0 };
	uint8_t head[2] = { PROTO_CONSENT_RECORD_VERSION, r->kind };
	put(&w, head, 2);
	put(&w, r->account, 16);
	put(&w, r->device, 16);
	put_str8(&w, r->tenant);
	put_str8(&w, r->unit);
	put_str8(&w, r->purpose);
	put_str8(&w, r->text_version);
	put(&w, r->text_sha256, 32);
	put_str8(&w, r->language);
	put_str8(&w, r->client_version);
	uint8_t t[8];
	wakks_store_be64(t, r->time_ms);
	put(&w, t, 8);
	if (w.len > cap)
		return PROTO_E_NO_SPACE;
	*out_len = w.len;
	return 0;
}

int proto_consent_record_signed(const uint8_t *record, size_t len, uint8_t *buf, size_t cap,
				size_t *out_len)
{
	size_t dl = sizeof PROTO_CONSENT_SIGN_DOMAIN; /* includes the 0x00 separator */
	if (cap < dl || cap - dl < len)
		return PROTO_E_NO_SPACE;
	memcpy(buf, PROTO_CONSENT_SIGN_DOMAIN, dl);
	memcpy(buf + dl, record, len);
	*out_len = dl + len;
	return 0;
}
