/* SPDX-License-Identifier: MPL-2.0 */
/* Consent against a real relay: the text and its hash served over HTTPS, a signed grant lets a
 * caseworker write, a withdrawal stops the next caseworker message at once while citizen → unit
 * stays allowed, forged and tampered records are refused, and the history comes back in order. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_devidp.h"
#include "wakks_identity.h"

static struct relay_proc relay;
static struct tdev anna, bo, camilla;
static char text_version[33];
static uint8_t text_sha[32];

static void put_str8(uint8_t *buf, size_t *n, const char *s)
{
	buf[(*n)++] = (uint8_t)strlen(s);
	memcpy(buf + *n, s, strlen(s));
	*n += strlen(s);
}

/* spec/consent.md §2: the record of `who`, signed by `signer`. */
static size_t make_record(uint8_t *buf, const struct tdev *who, uint8_t kind, const char *unit,
			  const char *version, const uint8_t sha[32])
{
	size_t n = 0;
	buf[n++] = 1;
	buf[n++] = kind;
	memcpy(buf + n, who->account_id, 16);
	n += 16;
	memcpy(buf + n, who->device_id, 16);
	n += 16;
	put_str8(buf, &n, "varde");
	put_str8(buf, &n, unit);
	put_str8(buf, &n, "digital-kommunikation");
	put_str8(buf, &n, version);
	memcpy(buf + n, sha, 32);
	n += 32;
	put_str8(buf, &n, "da");
	put_str8(buf, &n, "wakks-test/1");
	uint64_t t = (uint64_t)time(NULL) * 1000;
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(t >> (8 * i));
	return n;
}

static void sign_record(const uint8_t *rec, size_t len, const struct tdev *signer, uint8_t sig[64])
{
	uint8_t msg[1024];
	memcpy(msg, "wakks.v1 consent", 17); /* with its 0x00 */
	memcpy(msg + 17, rec, len);
	crypto_sign_detached(sig, NULL, msg, 17 + len, signer->ik_sk);
}

static int consent(struct tdev *d, uint32_t type, const uint8_t *rec, size_t len, const uint8_t sig[64])
{
	proto_frame f;
	proto_frame_init(&f, type, 0);
	proto_consent *c = type == PROTO_T_CONSENT_GRANT ? &f.body.consent_grant : &f.body.consent_withdraw;
	c->record = (proto_bytes){ rec, len };
	c->sig = sig;
	return tdev_request(d, &f, 5000);
}

static int grant_or_withdraw(struct tdev *d, uint8_t kind)
{
	uint8_t rec[512], sig[64];
	size_t n = make_record(rec, d, kind, "", text_version, text_sha);
	sign_record(rec, n, d, sig);
	return consent(d, kind == 1 ? PROTO_T_CONSENT_GRANT : PROTO_T_CONSENT_WITHDRAW, rec, n, sig);
}

static int caseworker_writes_to_anna(void)
{
	uint8_t cmid[16], to[1][16], devs[1][16];
	randombytes_buf(cmid, 16);
	memcpy(to[0], anna.account_id, 16);
	memcpy(devs[0], anna.device_id, 16);
	return tdev_send(&camilla, cmid, (const uint8_t(*)[16])to, 1, "varde", "jobcenter",
			 (const uint8_t(*)[16])devs, 1, "hej", 3, false);
}

static void consent_text_served_with_its_hash(void)
{
	int status = 0;
	char *body = NULL;
	REQUIRE(https_request(relay.port, "GET", "/consent/varde", NULL, NULL, &status, &body, NULL, 0) == 0);
	CHECK_EQ_INT(status, 200);
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	REQUIRE(j != NULL);
	const char *text = json_string_value(json_object_get(j, "text"));
	const char *hex = json_string_value(json_object_get(j, "sha256"));
	const char *version = json_string_value(json_object_get(j, "version"));
	REQUIRE(text && hex && version);
	uint8_t sha[32];
	crypto_hash_sha256(sha, (const uint8_t *)text, strlen(text));
	REQUIRE(sodium_hex2bin(text_sha, 32, hex, strlen(hex), NULL, NULL, NULL) == 0);
	CHECK_MEM(sha, text_sha, 32);
	snprintf(text_version, sizeof text_version, "%s", version);
	json_decref(j);
	REQUIRE(https_request(relay.port, "GET", "/consent/nowhere", NULL, NULL, &status, &body, NULL, 0) == 0);
	CHECK_EQ_INT(status, 404);
	free(body);
}

static void grant_lets_caseworker_write_withdraw_stops_it(void)
{
	CHECK_EQ_INT(caseworker_writes_to_anna(), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_CONSENT_REQUIRED);
	CHECK_EQ_INT(grant_or_withdraw(&anna, 1), PROTO_T_OK);
	CHECK_EQ_INT(caseworker_writes_to_anna(), PROTO_T_STORED);
	REQUIRE(tdev_wait(&anna, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(tdev_ack(&anna, anna.frame.body.deliver.seq), PROTO_T_OK);
	CHECK_EQ_INT(grant_or_withdraw(&anna, 2), PROTO_T_OK);
	CHECK_EQ_INT(caseworker_writes_to_anna(), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_CONSENT_REQUIRED);
	/* The citizen can still write to the unit. */
	uint8_t cmid[16], devs[1][16];
	randombytes_buf(cmid, 16);
	memcpy(devs[0], camilla.device_id, 16);
	CHECK_EQ_INT(tdev_send(&anna, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])devs, 1,
			       "still here", 10, false),
		     PROTO_T_STORED);
}

static void forged_and_tampered_records_refused(void)
{
	uint8_t rec[512], sig[64];
	/* Anna's record signed by bo's device key. */
	size_t n = make_record(rec, &anna, 1, "", text_version, text_sha);
	sign_record(rec, n, &bo, sig);
	CHECK_EQ_INT(consent(&anna, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_BAD_SIGNATURE);
	/* A record naming anna, sent by bo. */
	sign_record(rec, n, &anna, sig);
	CHECK_EQ_INT(consent(&bo, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_INVALID);
	/* Tampered after signing. */
	rec[n - 1] ^= 1;
	CHECK_EQ_INT(consent(&anna, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_BAD_SIGNATURE);
	/* Another text than the one served. */
	uint8_t wrong[32] = { 1 };
	n = make_record(rec, &anna, 1, "", text_version, wrong);
	sign_record(rec, n, &anna, sig);
	CHECK_EQ_INT(consent(&anna, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_INVALID);
	/* A withdrawal sent as a grant; a caseworker giving consent. */
	n = make_record(rec, &anna, 2, "", text_version, text_sha);
	sign_record(rec, n, &anna, sig);
	CHECK_EQ_INT(consent(&anna, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_INVALID);
	n = make_record(rec, &camilla, 1, "", text_version, text_sha);
	sign_record(rec, n, &camilla, sig);
	CHECK_EQ_INT(consent(&camilla, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* Still withdrawn. */
	CHECK_EQ_INT(caseworker_writes_to_anna(), PROTO_T_ERROR);
}

/* spec/consent.md §4 states one order of checks: an unknown unit is not_found even when the record
 * is also of the wrong kind and unsigned; with a known unit, the wrong kind comes before the
 * signature. */
static void consent_checks_in_the_stated_order(void)
{
	uint8_t rec[512], sig[64] = { 0 };
	size_t n = make_record(rec, &anna, 2, "no-such-unit", text_version, text_sha);
	CHECK_EQ_INT(consent(&anna, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_NOT_FOUND);
	n = make_record(rec, &anna, 2, "", text_version, text_sha);
	CHECK_EQ_INT(consent(&anna, PROTO_T_CONSENT_GRANT, rec, n, sig), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_INVALID);
}

static void history_in_order_with_exact_bytes(void)
{
	CHECK_EQ_INT(grant_or_withdraw(&anna, 1), PROTO_T_OK);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CONSENT_LIST, 0);
	REQUIRE(tdev_request(&anna, &f, 5000) == PROTO_T_CONSENTS);
	const proto_consents *l = &anna.frame.body.consents;
	CHECK_EQ_INT(l->count, 3);
	if (l->count == 3) {
		CHECK_EQ_INT(l->list[0].kind, 1);
		CHECK_EQ_INT(l->list[1].kind, 2);
		CHECK_EQ_INT(l->list[2].kind, 1);
		CHECK(l->list[0].time <= l->list[1].time && l->list[1].time <= l->list[2].time);
		/* The stored signature still verifies over the stored bytes. */
		uint8_t msg[1024];
		memcpy(msg, "wakks.v1 consent", 17);
		memcpy(msg + 17, l->list[2].record.ptr, l->list[2].record.len);
		CHECK(crypto_sign_verify_detached(l->list[2].sig, msg, 17 + l->list[2].record.len,
						  anna.ik_pk) == 0);
	}
	CHECK_EQ_INT(caseworker_writes_to_anna(), PROTO_T_STORED);
}

static int lookup(struct tdev *d, const char *cpr)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CITIZEN_LOOKUP, 0);
	f.body.citizen_lookup.cpr = (proto_str){ cpr, strlen(cpr) };
	return tdev_request(d, &f, 5000);
}

static void caseworker_finds_only_consenting_citizens(void)
{
	const devidp_user *a = devidp_demo_user("anna"), *b = devidp_demo_user("bo");
	REQUIRE(a && b);
	/* anna has consented (the previous test ended with a grant): reachable, with her device. */
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);
	CHECK(camilla.frame.body.citizen.account &&
	      memcmp(camilla.frame.body.citizen.account, anna.account_id, 16) == 0);
	CHECK_EQ_INT(camilla.frame.body.citizen.device_count, 1);
	/* bo uses the service without consent, and someone who does not use it at all: the same
	 * answer, byte for byte. */
	CHECK_EQ_INT(lookup(&camilla, b->cpr), PROTO_T_CITIZEN);
	CHECK(!camilla.frame.body.citizen.reachable && camilla.frame.body.citizen.account == NULL);
	CHECK_EQ_INT(lookup(&camilla, "0101701234"), PROTO_T_CITIZEN);
	CHECK(!camilla.frame.body.citizen.reachable && camilla.frame.body.citizen.account == NULL);
	/* Not a CPR number; a citizen asking. */
	CHECK_EQ_INT(lookup(&camilla, "12345abcde"), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_INVALID);
	CHECK_EQ_INT(lookup(&bo, a->cpr), PROTO_T_ERROR);
	CHECK_EQ_INT(bo.frame.body.error.code, -PROTO_E_FORBIDDEN);
}

static void lookups_rate_limited(void)
{
	int limited = 0, answered = 0;
	for (int i = 0; i < 40; i++) {
		int t = lookup(&camilla, "0101701234");
		if (t == PROTO_T_ERROR && camilla.frame.body.error.code == -PROTO_E_RATE_LIMITED)
			limited++;
		else if (t == PROTO_T_CITIZEN)
			answered++;
	}
	CHECK(limited > 0);
	CHECK(answered > 0 && answered <= 30);
}

static void consent_change_announced_to_unit_devices(void)
{
	int earlier = 0; /* the changes of the tests before: grant, withdrawal, grant */
	while (tdev_wait(&camilla, PROTO_T_CONSENT_CHANGED, 300) == PROTO_T_CONSENT_CHANGED)
		earlier++;
	CHECK_EQ_INT(earlier, 3);
	CHECK_EQ_INT(grant_or_withdraw(&anna, 2), PROTO_T_OK);
	REQUIRE(tdev_wait(&camilla, PROTO_T_CONSENT_CHANGED, 3000) == PROTO_T_CONSENT_CHANGED);
	const proto_consent_changed *cc = &camilla.frame.body.consent_changed;
	CHECK_MEM(cc->account, anna.account_id, 16);
	CHECK(cc->tenant.len == 5 && memcmp(cc->tenant.ptr, "varde", 5) == 0);
	CHECK_EQ_INT(cc->kind, 2);
	CHECK_EQ_INT(grant_or_withdraw(&anna, 1), PROTO_T_OK);
	REQUIRE(tdev_wait(&camilla, PROTO_T_CONSENT_CHANGED, 3000) == PROTO_T_CONSENT_CHANGED);
	CHECK_EQ_INT(camilla.frame.body.consent_changed.kind, 1);
}

static void consent_changes_audited(void)
{
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	char *out = NULL, *err = NULL;
	char *args[] = { (char *)relay_binary(), "--config", relay.config_path, "audit", "export", NULL };
	CHECK_EQ_INT(relay_run_command_io(args, NULL, &out, &err), 0);
	int given = 0, withdrawn = 0;
	for (char *p = out; p && (p = strstr(p, "\"type\":")); p += 7) {
		int t = atoi(p + 7);
		given += t == 4;
		withdrawn += t == 5;
	}
	CHECK_EQ_INT(given, 3);
	CHECK_EQ_INT(withdrawn, 2);
	int lookups = 0;
	for (char *p = out; p && (p = strstr(p, "\"type\":7")); p += 8)
		lookups++;
	CHECK(lookups >= 5); /* every answered look-up */
	CHECK(out && !strstr(out, "0101701234")); /* never the CPR number */
	free(out);
	free(err);
}

static void municipality_report_counts(void)
{
	char *out = NULL, *err = NULL;
	char *args[] = { (char *)relay_binary(), "--config", relay.config_path, "--dev",
			 "consent-report", "varde", NULL };
	CHECK_EQ_INT(relay_run_command_io(args, NULL, &out, &err), 0);
	/* anna: three grants and two withdrawals of the development text; active now. */
	char want[128];
	snprintf(want, sizeof want, "%-16s %-16s %10d %12d %8d", "(hele kommunen)", text_version, 3, 2, 1);
	CHECK(out && strstr(out, want) != NULL);
	if (out && !strstr(out, want))
		fprintf(stderr, "  report:\n%s", out);
	free(out);
	free(err);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	tdev_init(&camilla, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 5) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 5) != 0 ||
	    tdev_register(&camilla, "dev-adfs", "camilla", 5) != 0)
		return 1;
	RUN(consent_text_served_with_its_hash);
	RUN(grant_lets_caseworker_write_withdraw_stops_it);
	RUN(forged_and_tampered_records_refused);
	RUN(consent_checks_in_the_stated_order);
	RUN(history_in_order_with_exact_bytes);
	RUN(caseworker_finds_only_consenting_citizens);
	RUN(lookups_rate_limited);
	RUN(consent_change_announced_to_unit_devices);
	RUN(consent_changes_audited);
	RUN(municipality_report_counts);
	tdev_free(&anna);
	tdev_free(&bo);
	tdev_free(&camilla);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
