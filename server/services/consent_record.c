/* SPDX-License-Identifier: MPL-2.0 */
#include "services/consent_record.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

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

static struct consent_view str8(struct reader *r, size_t min, size_t max, const char *what)
{
	struct consent_view v = { NULL, 0 };
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

int consent_record_parse(const uint8_t *buf, size_t len, struct consent_record *out,
			 const char **why)
{
	struct reader r = { buf, buf + len, NULL };
	struct consent_record c;
	const uint8_t *version = take(&r, 1, "record truncated");
	if (version && *version != CONSENT_RECORD_VERSION)
		r.why = "unknown record version";
	const uint8_t *kind = take(&r, 1, "record truncated");
	if (kind && *kind != 1 && *kind != 2)
		r.why = "kind is neither grant nor withdrawal";
	c.kind = kind ? *kind : 0;
	c.account = take(&r, 16, "record truncated");
	c.device = take(&r, 16, "record truncated");
	c.tenant = str8(&r, 1, 32, "tenant");
	c.unit = str8(&r, 0, 32, "unit");
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
		return -1;
	}
	c.time_ms = 0;
	for (int i = 0; i < 8; i++)
		c.time_ms = (c.time_ms << 8) | t[i];
	*out = c;
	return 0;
}

int consent_record_verify(const uint8_t *record, size_t len, const uint8_t sig[64],
			  const uint8_t identity_key[32])
{
	size_t dl = sizeof CONSENT_SIGN_DOMAIN; /* includes the 0x00 separator */
	uint8_t *msg = malloc(dl + len);
	if (!msg)
		return -1;
	memcpy(msg, CONSENT_SIGN_DOMAIN, dl);
	memcpy(msg + dl, record, len);
	int rc = crypto_sign_verify_detached(sig, msg, dl + len, identity_key);
	free(msg);
	return rc == 0 ? 0 : -1;
}
