/* SPDX-License-Identifier: MPL-2.0 */
/* Byte-level checks of what the client builds: the consent record and its signature
 * (spec/consent.md §2-3), the registration nonce against the relay's own implementation
 * (spec/identity.md §3), conversation ids, and the stored message record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "test.h"
#include "wakks_identity.h"
#include "wakks_internal.h"

static wakks_client *c;
static char dir[256];

static void consent_record_layout_and_signature(void)
{
	/* A registered device (ids set directly: no relay in a unit test). */
	c->registered = true;
	memset(c->account, 0xaa, 16);
	memset(c->device, 0xdd, 16);
	uint8_t sha[32], rec[4096], sig[64];
	memset(sha, 0x5e, sizeof sha);
	size_t n = 0;
	REQUIRE(wakks_consent_record(c, 1, "varde", "jobcenter", "2026-11", sha, "da",
				     0x0102030405060708ull, rec, &n, sig) == 0);
	const char *client = "libwakks/" WAKKS_VERSION;
	size_t want = 1 + 1 + 16 + 16 + (1 + 5) + (1 + 9) + (1 + 21) + (1 + 7) + 32 + (1 + 2) +
		      (1 + strlen(client)) + 8;
	CHECK_EQ_INT(n, want);
	CHECK_EQ_INT(rec[0], 1);
	CHECK_EQ_INT(rec[1], 1);
	CHECK(rec[2] == 0xaa && rec[17] == 0xaa && rec[18] == 0xdd && rec[33] == 0xdd);
	CHECK(rec[34] == 5 && memcmp(rec + 35, "varde", 5) == 0);
	CHECK(rec[40] == 9 && memcmp(rec + 41, "jobcenter", 9) == 0);
	CHECK(rec[50] == 21 && memcmp(rec + 51, "digital-kommunikation", 21) == 0);
	CHECK(rec[72] == 7 && memcmp(rec + 73, "2026-11", 7) == 0);
	CHECK(rec[80] == 0x5e && rec[111] == 0x5e);
	CHECK(rec[112] == 2 && memcmp(rec + 113, "da", 2) == 0);
	CHECK(rec[115] == strlen(client) && memcmp(rec + 116, client, strlen(client)) == 0);
	static const uint8_t t[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	CHECK_MEM(rec + n - 8, t, 8);
	/* sig = Ed25519(IK, "wakks.v1 consent" 0x00 record) */
	uint8_t msg[4200];
	memcpy(msg, "wakks.v1 consent", 16);
	msg[16] = 0;
	memcpy(msg + 17, rec, n);
	uint8_t ik[32];
	wakks_identity_key(c, ik);
	CHECK_EQ_INT(crypto_sign_verify_detached(sig, msg, 17 + n, ik), 0);
	/* without the domain string it must not verify */
	CHECK(crypto_sign_verify_detached(sig, rec, n, ik) != 0);
	/* whole tenant: empty unit; withdrawal kind 2 */
	REQUIRE(wakks_consent_record(c, 2, "varde", "", "2026-11", sha, "da", 1, rec, &n, sig) == 0);
	CHECK(rec[1] == 2 && rec[40] == 0);
	/* refused inputs */
	CHECK_EQ_INT(wakks_consent_record(c, 3, "varde", "", "v", sha, "da", 1, rec, &n, sig), WAKKS_E_INVAL);
	CHECK_EQ_INT(wakks_consent_record(c, 1, "", "", "v", sha, "da", 1, rec, &n, sig), WAKKS_E_INVAL);
	CHECK_EQ_INT(wakks_consent_record(c, 1, "varde", "", "v", sha, "d", 1, rec, &n, sig), WAKKS_E_INVAL);
	c->registered = false;
	CHECK_EQ_INT(wakks_consent_record(c, 1, "varde", "", "v", sha, "da", 1, rec, &n, sig),
		     WAKKS_E_NOT_REGISTERED);
}

static void nonce_matches_the_relays_construction(void)
{
	CHECK_EQ_INT(wakks_registration_nonce(c, "https://x", (char[44]){ 0 }), WAKKS_E_STATE);
	const char *issuers[3] = { "https://localhost:8443/dev-idp/dev-mitid", "i",
				   "https://broker.example/æøå" };
	for (int i = 0; i < 3; i++) {
		randombytes_buf(c->challenge, 32);
		c->have_challenge = true;
		char ours[WAKKS_NONCE_CHARS + 1], theirs[ID_NONCE_BUF_BYTES];
		uint8_t ik[32];
		wakks_identity_key(c, ik);
		CHECK_EQ_INT(wakks_registration_nonce(c, issuers[i], ours), 0);
		CHECK_EQ_INT(id_nonce_compute(issuers[i], ik, c->challenge, theirs), 0);
		CHECK(strcmp(ours, theirs) == 0);
		CHECK_EQ_INT(strlen(ours), 43);
	}
	c->have_challenge = false;
}

static void conversation_ids_agree_on_both_sides(void)
{
	uint8_t citizen[16], worker[16], a[16], b[16];
	randombytes_buf(citizen, 16);
	randombytes_buf(worker, 16);
	/* citizen -> unit, and the caseworker's answer to the citizen within the unit */
	wakks__conversation_id(citizen, citizen, "varde", "jobcenter", a);
	wakks__conversation_id(citizen, worker, "varde", "jobcenter", b);
	CHECK_MEM(a, b, 16);
	wakks__conversation_id(citizen, citizen, "varde", "borgerservice", b);
	CHECK(memcmp(a, b, 16) != 0);
	/* two accounts directly: the same whoever writes */
	wakks__conversation_id(citizen, worker, "", "", a);
	wakks__conversation_id(worker, citizen, "", "", b);
	CHECK_MEM(a, b, 16);
}

static void message_record_round_trip(void)
{
	wakks_message m, back;
	memset(&m, 0, sizeof m);
	randombytes_buf(m.id, 16);
	memset(m.sender_account, 1, 16);
	m.sent_ms = 123456789;
	m.stored_ms = 987654321;
	m.outgoing = true;
	strcpy(m.tenant, "varde");
	strcpy(m.unit, "jobcenter");
	m.text = "Hej med dig";
	m.text_len = strlen(m.text);
	wakks__buf b = { 0 };
	REQUIRE(wakks__msg_encode(&m, true, &b) == 0);
	bool failed = false;
	REQUIRE(wakks__msg_decode(b.p, b.len, &back, &failed) == 0);
	CHECK(failed && back.outgoing);
	CHECK_MEM(back.id, m.id, 16);
	CHECK(back.sent_ms == m.sent_ms && back.stored_ms == m.stored_ms);
	CHECK(strcmp(back.tenant, "varde") == 0 && strcmp(back.unit, "jobcenter") == 0);
	CHECK(back.text_len == m.text_len && memcmp(back.text, m.text, m.text_len) == 0);
	/* truncated or extended records are refused */
	CHECK_EQ_INT(wakks__msg_decode(b.p, b.len - 1, &back, NULL), WAKKS_E_CORRUPT);
	wakks__put_u8(&b, 0);
	CHECK_EQ_INT(wakks__msg_decode(b.p, b.len, &back, NULL), WAKKS_E_CORRUPT);
	wakks__buf_free(&b);
}

static void ids_and_errors(void)
{
	uint8_t id[16], back[16];
	char hex[33];
	randombytes_buf(id, 16);
	wakks_id_hex(id, hex);
	CHECK_EQ_INT(wakks_id_parse(hex, back), 0);
	CHECK_MEM(id, back, 16);
	CHECK_EQ_INT(wakks_id_parse("xyz", back), WAKKS_E_INVAL);
	CHECK(strcmp(wakks_strerror(WAKKS_RELAY_CONSENT_REQUIRED), "no active consent for this conversation") == 0);
	CHECK(strcmp(wakks_strerror(WAKKS_E_STORE_KEY), "store key does not open this store") == 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/wakks-records-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	uint8_t key[32];
	randombytes_buf(key, sizeof key);
	wakks_config cfg = { .relay_url = "wss://localhost:1", .store_dir = dir, .store_key = key };
	if (wakks_open(&cfg, &c) != 0)
		return 1;
	RUN(consent_record_layout_and_signature);
	RUN(nonce_matches_the_relays_construction);
	RUN(conversation_ids_agree_on_both_sides);
	RUN(message_record_round_trip);
	RUN(ids_and_errors);
	wakks_close(c);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return TEST_RESULT();
}
