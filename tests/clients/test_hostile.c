/* SPDX-License-Identifier: MPL-2.0 */
/* Hostile input to the client's decoders: WebSocket frames a relay (or anyone on the path before
 * TLS verification failed to stop them) could send, and damaged stored records. Every case ends
 * in a clean error or a correct message, never in a crash or an over-read (run under ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "test.h"
#include "wakks_internal.h"

struct got {
	int n;
	size_t len[8];
	uint8_t first[8];
};

static void on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct got *g = arg;
	if (g->n < 8) {
		g->len[g->n] = len;
		g->first[g->n] = len ? msg[0] : 0;
	}
	g->n++;
}

/* Parses bytes as if the relay had sent them on an open connection. */
static int feed(const uint8_t *bytes, size_t n, struct got *g, wakks__ws *w)
{
	memset(w, 0, sizeof *w);
	w->fd = -1;
	w->state = WS_OPEN;
	w->in = malloc(n ? n : 1);
	memcpy(w->in, bytes, n);
	w->in_len = w->in_cap = n;
	memset(g, 0, sizeof *g);
	int rc = wakks__ws_parse(w, on_msg, g);
	free(w->in);
	free(w->msg);
	free(w->out);
	return rc;
}

static void well_formed_frames_of_each_length(void)
{
	wakks__ws w;
	struct got g;
	/* 5 bytes; 300 bytes (16-bit length); 70000 bytes (64-bit length) */
	size_t sizes[3] = { 5, 300, 70000 };
	for (int i = 0; i < 3; i++) {
		size_t n = sizes[i], h = n < 126 ? 2 : n < 65536 ? 4 : 10;
		uint8_t *b = calloc(1, h + n);
		b[0] = 0x82;
		if (n < 126) {
			b[1] = (uint8_t)n;
		} else if (n < 65536) {
			b[1] = 126;
			b[2] = (uint8_t)(n >> 8);
			b[3] = (uint8_t)n;
		} else {
			b[1] = 127;
			for (int k = 0; k < 8; k++)
				b[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
		}
		b[h] = 0x93;
		CHECK_EQ_INT(feed(b, h + n, &g, &w), 0);
		CHECK(g.n == 1 && g.len[0] == n && g.first[0] == 0x93);
		free(b);
	}
	/* a message in three fragments with a ping in between: one message; the ping answered */
	const uint8_t frags[] = { 0x02, 2, 'a', 'b', 0x89, 1, 'p', 0x00, 1, 'c', 0x80, 1, 'd' };
	CHECK_EQ_INT(feed(frags, sizeof frags, &g, &w), 0);
	CHECK(g.n == 1 && g.len[0] == 4 && g.first[0] == 'a');
	/* a partial frame waits for more bytes */
	const uint8_t partial[] = { 0x82, 126, 0x01 };
	CHECK_EQ_INT(feed(partial, sizeof partial, &g, &w), 0);
	CHECK_EQ_INT(g.n, 0);
}

static void refused_frames(void)
{
	wakks__ws w;
	struct got g;
	struct {
		const char *what;
		uint8_t bytes[16];
		size_t n;
		int want;
	} cases[] = {
		{ "masked server frame", { 0x82, 0x81, 1, 2, 3, 4, 'x' }, 7, WAKKS_E_PROTOCOL },
		{ "reserved bit", { 0xc2, 1, 'x' }, 3, WAKKS_E_PROTOCOL },
		{ "text message", { 0x81, 1, 'x' }, 3, WAKKS_E_PROTOCOL },
		{ "unknown opcode", { 0x83, 1, 'x' }, 3, WAKKS_E_PROTOCOL },
		{ "continuation without start", { 0x80, 1, 'x' }, 3, WAKKS_E_PROTOCOL },
		{ "new message inside a fragmented one", { 0x02, 1, 'a', 0x82, 1, 'b' }, 6, WAKKS_E_PROTOCOL },
		{ "fragmented ping", { 0x09, 1, 'p' }, 3, WAKKS_E_PROTOCOL },
		{ "ping over 125 bytes", { 0x89, 126, 0, 126 }, 4, WAKKS_E_PROTOCOL },
		/* declared 2^63 bytes: refused from the header, nothing allocated */
		{ "huge declared length", { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 10, WAKKS_E_TOO_LARGE },
		{ "just over one frame", { 0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 1 }, 10, WAKKS_E_TOO_LARGE },
		{ "close", { 0x88, 2, 0x03, 0xe8 }, 4, WAKKS_E_CLOSED },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = feed(cases[i].bytes, cases[i].n, &g, &w);
		if (rc != cases[i].want)
			fprintf(stderr, "  %s: %d\n", cases[i].what, rc);
		CHECK_EQ_INT(rc, cases[i].want);
	}
	/* Fragments adding up to more than one frame are refused before they are buffered. */
	size_t big = 600 * 1024;
	uint8_t *b = calloc(1, 2 * (10 + big));
	for (int f = 0; f < 2; f++) {
		uint8_t *p = b + f * (10 + big);
		p[0] = f == 0 ? 0x02 : 0x80;
		p[1] = 127;
		for (int k = 0; k < 8; k++)
			p[2 + k] = (uint8_t)((uint64_t)big >> (56 - 8 * k));
	}
	CHECK_EQ_INT(feed(b, 2 * (10 + big), &g, &w), WAKKS_E_TOO_LARGE);
	CHECK_EQ_INT(g.n, 0);
	free(b);
}

static void random_bytes_never_crash(void)
{
	wakks__ws w;
	struct got g;
	uint8_t buf[512];
	int errors = 0;
	for (int i = 0; i < 20000; i++) {
		size_t n = randombytes_uniform(sizeof buf);
		randombytes_buf(buf, n);
		/* bias towards plausible headers */
		if (n && (i & 1))
			buf[0] = (uint8_t)((buf[0] & 0x8f) | 0x00);
		if (n > 1 && (i & 2))
			buf[1] &= 0x7f;
		errors += feed(buf, n, &g, &w) != 0;
	}
	CHECK(errors > 0);
}

static void damaged_message_records_are_refused(void)
{
	wakks_message m;
	memset(&m, 0, sizeof m);
	strcpy(m.tenant, "varde");
	strcpy(m.unit, "jobcenter");
	m.text = "tekst";
	m.text_len = 5;
	wakks__buf b = { 0 };
	REQUIRE(wakks__msg_encode(&m, false, &b) == 0);
	wakks_message out;
	/* every truncation */
	for (size_t n = 0; n < b.len; n++)
		CHECK_EQ_INT(wakks__msg_decode(b.p, n, &out, NULL), WAKKS_E_CORRUPT);
	/* every single-byte change either decodes consistently or is refused */
	int refused = 0;
	for (size_t i = 0; i < b.len; i++) {
		uint8_t *copy = malloc(b.len);
		memcpy(copy, b.p, b.len);
		copy[i] ^= 0xff;
		int rc = wakks__msg_decode(copy, b.len, &out, NULL);
		refused += rc != 0;
		if (rc == 0)
			CHECK(out.text_len <= b.len);
		free(copy);
	}
	CHECK(refused > 0);
	/* a declared text length far past the record */
	uint8_t *copy = malloc(b.len);
	memcpy(copy, b.p, b.len);
	size_t tl_off = b.len - 5 - 4;
	copy[tl_off] = 0x7f;
	CHECK_EQ_INT(wakks__msg_decode(copy, b.len, &out, NULL), WAKKS_E_CORRUPT);
	free(copy);
	wakks__buf_free(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(well_formed_frames_of_each_length);
	RUN(refused_frames);
	RUN(random_bytes_never_crash);
	RUN(damaged_message_records_are_refused);
	return TEST_RESULT();
}
