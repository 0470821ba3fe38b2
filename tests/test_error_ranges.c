/* SPDX-License-Identifier: MPL-2.0 */
/* Every library's result codes lie in a range of its own, so a code handed up from the wrong layer
 * can never pass for another (a storage "not found" once shared -3 with the wire's
 * trailing_bytes). Checked from the tables themselves: each code lies in its library's documented
 * range, the ranges do not overlap, and each *_strerror knows its own codes and no one else's. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <uv.h>

#include "services/blob_files.h"
#include "test.h"
#include "wakks.h"
#include "wakks_crypto.h"
#include "wakks_devidp.h"
#include "wakks_identity.h"
#include "wakks_protocol.h"
#include "wakks_storage.h"

#define PROTO_CODE(name, num, sym, text) -(num),
#define PLAIN_CODE(name, code, text) (code),

static const int proto_codes[] = { PROTO_ERRNO_MAP(PROTO_CODE) };
static const int store_codes[] = { STORE_ERRNO_MAP(PLAIN_CODE) };
static const int wc_codes[] = { WC_ERRNO_MAP(PLAIN_CODE) };
static const int id_codes[] = { ID_ERRNO_MAP(PLAIN_CODE) };
static const int devidp_codes[] = { DEVIDP_ERRNO_MAP(PLAIN_CODE) };
static const int wakks_codes[] = { WAKKS_ERRNO_MAP(PLAIN_CODE) };
static const int relay_codes[] = { BLOB_STORE_EDIGEST };

struct table {
	const char *lib;
	const int *codes;
	size_t n;
	int lo, hi;                   /* the range its header documents */
	const char *(*text)(int err); /* NULL: the relay's codes have no strerror of their own */
	const char *unknown;
};

#define TABLE(lib, codes, lo, hi, text, unknown) \
	{ lib, codes, sizeof codes / sizeof codes[0], lo, hi, text, unknown }

static const struct table tables[] = {
	TABLE("protocol", proto_codes, -63, -1, proto_strerror, "unknown error"),
	TABLE("libwakks", wakks_codes, -199, -100, wakks_strerror, "unknown error"),
	TABLE("storage", store_codes, -1999, -1001, store_strerror, "unknown storage error"),
	TABLE("crypto", wc_codes, -2999, -2001, wc_strerror, "unknown error"),
	TABLE("identity", id_codes, -5089, -5001, id_strerror, "unknown error"),
	TABLE("devidp", devidp_codes, -5099, -5090, devidp_strerror, "unknown error"),
	TABLE("relay", relay_codes, -6999, -6001, NULL, NULL),
};
#define N_TABLES (sizeof tables / sizeof tables[0])

static void codes_lie_in_their_ranges(void)
{
	for (size_t t = 0; t < N_TABLES; t++)
		for (size_t i = 0; i < tables[t].n; i++) {
			int c = tables[t].codes[i];
			if (c < tables[t].lo || c > tables[t].hi)
				fprintf(stderr, "%s code %d outside %d..%d\n", tables[t].lib, c, tables[t].lo,
					tables[t].hi);
			CHECK(c >= tables[t].lo && c <= tables[t].hi);
		}
}

static void ranges_do_not_overlap(void)
{
	for (size_t a = 0; a < N_TABLES; a++)
		for (size_t b = a + 1; b < N_TABLES; b++) {
			bool apart = tables[a].hi < tables[b].lo || tables[b].hi < tables[a].lo;
			if (!apart)
				fprintf(stderr, "%s and %s overlap\n", tables[a].lib, tables[b].lib);
			CHECK(apart);
		}
	/* The relay's own codes share an int with libuv's, which end at UV_ERRNO_MAX. */
	for (size_t i = 0; i < sizeof relay_codes / sizeof relay_codes[0]; i++)
		CHECK(relay_codes[i] < UV_ERRNO_MAX);
}

/* libwakks reports relay refusals with their wire codes, so it names protocol's codes too; the
 * development provider's strerror falls back to identity's, the library it is built on. */
static bool knows_by_design(const struct table *reader, const struct table *owner)
{
	return (strcmp(reader->lib, "libwakks") == 0 && strcmp(owner->lib, "protocol") == 0) ||
	       (strcmp(reader->lib, "devidp") == 0 && strcmp(owner->lib, "identity") == 0);
}

static void each_strerror_knows_only_its_own(void)
{
	for (size_t r = 0; r < N_TABLES; r++) {
		const struct table *reader = &tables[r];
		if (!reader->text)
			continue;
		for (size_t t = 0; t < N_TABLES; t++) {
			const struct table *owner = &tables[t];
			for (size_t i = 0; i < owner->n; i++) {
				const char *s = reader->text(owner->codes[i]);
				bool known = strcmp(s, reader->unknown) != 0;
				bool expect = r == t || knows_by_design(reader, owner);
				if (known != expect)
					fprintf(stderr, "%s_strerror(%d) from %s: \"%s\"\n", reader->lib,
						owner->codes[i], owner->lib, s);
				CHECK(known == expect);
			}
		}
	}
}

int main(void)
{
	RUN(codes_lie_in_their_ranges);
	RUN(ranges_do_not_overlap);
	RUN(each_strerror_knows_only_its_own);
	return TEST_RESULT();
}
