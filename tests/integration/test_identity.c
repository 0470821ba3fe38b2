/* SPDX-License-Identifier: MPL-2.0 */
/* Identity binding over real TLS WebSockets with tokens from the development identity provider:
 * registration of a citizen and a caseworker, no raw person identifier in storage, and every
 * refusal the specification lists — one generic answer on the wire, the exact check in the log. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_devidp.h"
#include "wakks_identity.h"

static struct relay_proc relay;
static devidp *mitid, *adfs;

static devidp *open_provider(const char *id, id_profile profile)
{
	char issuer[256], key_dir[400];
	snprintf(issuer, sizeof issuer, "https://localhost:%d/dev-idp/%s", relay.port, id);
	snprintf(key_dir, sizeof key_dir, "%s/devidp", relay.data_dir);
	devidp_config cfg = { .profile = profile, .issuer = issuer, .client_id = "wakks-dev",
			      .key_dir = key_dir };
	devidp *d = NULL;
	return devidp_open(&cfg, &d) == 0 ? d : NULL;
}

/* Registers `dev` with a token minted with `opts` (nonce bound to dev's key and challenge unless
 * opts->nonce is set). Returns the reply type. */
static int register_with(struct tdev *dev, devidp *p, devidp_mint_opts opts)
{
	char nonce[ID_NONCE_BUF_BYTES];
	if (tdev_connect(dev) != 0)
		return -1;
	if (!opts.nonce) {
		if (id_nonce_compute(devidp_issuer(p), dev->ik_pk, dev->challenge, nonce) != 0)
			return -1;
		opts.nonce = nonce;
	}
	char *token = NULL;
	if (devidp_mint(p, &opts, (int64_t)time(NULL), &token) != 0)
		return -1;
	int t = tdev_register_token(dev, token, 3);
	free(token);
	return t;
}

static void citizen_and_caseworker_register(void)
{
	struct tdev c, w;
	tdev_init(&c, relay.port);
	tdev_init(&w, relay.port);
	CHECK_EQ_INT(register_with(&c, mitid, (devidp_mint_opts){ .login = "anna" }), PROTO_T_REGISTERED);
	CHECK_EQ_INT(register_with(&w, adfs, (devidp_mint_opts){ .login = "camilla" }), PROTO_T_REGISTERED);
	/* Both authenticate on a new connection. */
	CHECK_EQ_INT(tdev_login(&c), 0);
	CHECK_EQ_INT(tdev_login(&w), 0);
	/* The caseworker landed in the unit its groups map to. */
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_SET_GET, 0);
	f.body.device_set_get.tenant = (proto_str){ "varde", 5 };
	f.body.device_set_get.unit = (proto_str){ "jobcenter", 9 };
	CHECK_EQ_INT(tdev_request(&c, &f, 5000), PROTO_T_DEVICE_SET);
	CHECK_EQ_INT(c.frame.body.device_set.count, 1);
	CHECK(c.frame.body.device_set.count == 1 &&
	      memcmp(c.frame.body.device_set.list[0].account, w.account_id, 16) == 0);
	tdev_free(&c);
	tdev_free(&w);
}

/* One refusal: the wire says attestation_rejected, the log names the check. */
static void refused(devidp *p, devidp_mint_opts opts, const char *log_reason)
{
	struct tdev d;
	tdev_init(&d, relay.port);
	int t = register_with(&d, p, opts);
	CHECK_EQ_INT(t, PROTO_T_ERROR);
	if (t == PROTO_T_ERROR)
		CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_ATTESTATION_REJECTED);
	char needle[128];
	snprintf(needle, sizeof needle, "reason=\"%s\"", log_reason);
	usleep(50000);
	if (!relay_log_contains(&relay, needle)) {
		fprintf(stderr, "  log lacks %s\n", needle);
		CHECK(!"refusal reason logged");
	}
	tdev_free(&d);
}

static void every_bad_token_is_refused(void)
{
	int64_t now = (int64_t)time(NULL);
	refused(mitid, (devidp_mint_opts){ .login = "bo", .alg = "none" }, "ID_ERR_ALG_NONE");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .alg = "HS256" }, "ID_ERR_ALG_HMAC");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .kid = "no-such-key" }, "ID_ERR_KID_UNKNOWN");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .corrupt_signature = true }, "ID_ERR_SIGNATURE");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .iss = "https://evil.example/idp" }, "unknown_issuer");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .aud = "someone-else" }, "ID_ERR_AUD");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .iat = now - 400, .exp = now - 200 }, "ID_ERR_EXPIRED");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .iat = now + 3600, .exp = now + 7200 }, "ID_ERR_IAT_FUTURE");
	refused(mitid, (devidp_mint_opts){ .login = "bo", .iat = now - 4000, .exp = now + 600 }, "ID_ERR_TOO_OLD");
	refused(mitid, (devidp_mint_opts){ .login = "bo",
		.extra_claims_json = "{\"loa\":\"https://data.gov.dk/concept/core/nsis/Low\","
				     "\"ial\":null}" }, "ID_ERR_ASSURANCE_LOW");
	refused(adfs, (devidp_mint_opts){ .login = "camilla", .extra_claims_json = "{\"groups\":[\"kantine\"]}" },
		"ID_ERR_NO_UNIT");

	/* Nonce for another device key. */
	struct tdev other;
	tdev_init(&other, relay.port);
	REQUIRE(tdev_connect(&other) == 0);
	char nonce[ID_NONCE_BUF_BYTES];
	REQUIRE(id_nonce_compute(devidp_issuer(mitid), other.ik_pk, other.challenge, nonce) == 0);
	tdev_free(&other);
	refused(mitid, (devidp_mint_opts){ .login = "bo", .nonce = nonce }, "ID_ERR_NONCE_MISMATCH");

	/* Nonce for another connection's challenge (same key). */
	struct tdev d;
	tdev_init(&d, relay.port);
	REQUIRE(tdev_connect(&d) == 0);
	REQUIRE(id_nonce_compute(devidp_issuer(mitid), d.ik_pk, d.challenge, nonce) == 0);
	char *token = NULL;
	REQUIRE(devidp_mint(mitid, &(devidp_mint_opts){ .login = "bo", .nonce = nonce }, now, &token) == 0);
	REQUIRE(tdev_connect(&d) == 0); /* a new connection, a new challenge */
	CHECK_EQ_INT(tdev_register_token(&d, token, 1), PROTO_T_ERROR);
	CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_ATTESTATION_REJECTED);

	/* A token replayed: first use succeeds, the second is refused even on the same challenge. */
	REQUIRE(tdev_connect(&d) == 0);
	free(token);
	REQUIRE(id_nonce_compute(devidp_issuer(mitid), d.ik_pk, d.challenge, nonce) == 0);
	REQUIRE(devidp_mint(mitid, &(devidp_mint_opts){ .login = "bo", .nonce = nonce }, now, &token) == 0);
	struct tdev twin;
	tdev_init(&twin, relay.port);
	tdev_copy_identity(&twin, &d);
	CHECK_EQ_INT(tdev_register_token(&d, token, 1), PROTO_T_REGISTERED);
	CHECK_EQ_INT(tdev_register_token(&d, token, 1), PROTO_T_ERROR); /* now authenticated */
	tdev_free(&twin);

	/* Malformed base64 and an oversize token. */
	REQUIRE(tdev_connect(&d) == 0);
	char *dot = strchr(token, '.');
	dot[3] = '*';
	CHECK_EQ_INT(tdev_register_token(&d, token, 1), PROTO_T_ERROR);
	CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_ATTESTATION_REJECTED);
	/* An oversize token: our own encoder refuses to build one, so the frame is patched by hand —
	 * a token of exactly the limit, then its msgpack str16 length raised and bytes inserted. */
	size_t max = PROTO_MAX_ATTESTATION_BYTES;
	char *huge = malloc(max + 1);
	memset(huge, 'A', max);
	huge[max] = '\0';
	static proto_frame f;
	proto_frame_init(&f, PROTO_T_REGISTER, 77);
	uint8_t spk[32] = { 9 }, sig[64] = { 0 };
	f.body.reg.attestation = (proto_str){ huge, max };
	f.body.reg.identity_key = d.ik_pk;
	f.body.reg.spk = (proto_signed_prekey){ 1, spk, 1, sig };
	size_t cap = max + 4096, len = 0;
	uint8_t *frame = malloc(cap + 16);
	REQUIRE(proto_frame_encode(&f, frame, cap, &len) == 0);
	uint8_t *run = memmem(frame, len, huge, 64);
	REQUIRE(run && run >= frame + 3 && run[-3] == 0xda);
	size_t grown = max + 10;
	run[-2] = (uint8_t)(grown >> 8);
	run[-1] = (uint8_t)grown;
	memmove(run + 10, run, (size_t)(frame + len - run));
	memset(run, 'A', 10);
	REQUIRE(tdev_send_raw(&d, frame, len + 10) == 0);
	CHECK_EQ_INT(tdev_wait(&d, PROTO_T_ERROR, 3000), PROTO_T_ERROR);
	CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_OVER_LIMIT);
	CHECK_EQ_INT(d.frame.request_id, 77);
	free(frame);
	free(huge);
	free(token);
	tdev_free(&d);
}

static void replayed_token_on_fresh_connection_refused(void)
{
	/* The same token presented on two connections of one device key: only the first counts. */
	struct tdev d;
	tdev_init(&d, relay.port);
	REQUIRE(tdev_connect(&d) == 0);
	char nonce[ID_NONCE_BUF_BYTES];
	REQUIRE(id_nonce_compute(devidp_issuer(mitid), d.ik_pk, d.challenge, nonce) == 0);
	char *token = NULL;
	REQUIRE(devidp_mint(mitid, &(devidp_mint_opts){ .login = "bo", .nonce = nonce },
			    (int64_t)time(NULL), &token) == 0);
	CHECK_EQ_INT(tdev_register_token(&d, token, 1), PROTO_T_REGISTERED);
	tdev_disconnect(&d);
	REQUIRE(tdev_connect(&d) == 0);
	CHECK_EQ_INT(tdev_register_token(&d, token, 1), PROTO_T_ERROR);
	CHECK_EQ_INT(d.frame.body.error.code, -PROTO_E_ATTESTATION_REJECTED);
	free(token);
	tdev_free(&d);
}

static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t n = strlen(needle), cap = 1 << 20, got;
	char *buf = malloc(cap + n);
	bool found = false;
	size_t keep = 0;
	while ((got = fread(buf + keep, 1, cap, f)) > 0 && !found) {
		size_t len = keep + got;
		found = memmem(buf, len, needle, n) != NULL;
		keep = len < n ? len : n - 1;
		memmove(buf, buf + len - keep, keep);
	}
	free(buf);
	fclose(f);
	return found;
}

/* Every file of the PostgreSQL server's data directory, for needle. */
static const char *tree_needle;
static bool tree_found;

static int tree_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (type == FTW_F && file_contains(path, tree_needle))
		tree_found = true;
	return 0;
}

/* In the relay's stored data: LMDB's data.mdb, or every file of the PostgreSQL cluster (tables,
 * indexes and WAL; after a checkpoint, so the tables' pages are written too). */
static char lmdb_file[400];

static bool storage_contains(const char *needle)
{
	if (!relay_test_engine_pg())
		return file_contains(lmdb_file, needle);
	tree_needle = needle;
	tree_found = false;
	nftw(pg_test_server()->data_dir, tree_visit, 16, FTW_PHYS);
	return tree_found;
}

static void storage_holds_no_raw_person_identifier(void)
{
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	snprintf(lmdb_file, sizeof lmdb_file, "%s/db/data.mdb", relay.data_dir);
	if (relay_test_engine_pg()) {
		/* The server's files are read directly: only when this process started it. */
		if (!pg_test_server()) {
			fprintf(stderr, "  (skipped: WAKKS_TEST_PG's server's files are not ours to read)\n");
			return;
		}
		REQUIRE(pg_server_exec(pg_test_server(), NULL, "CHECKPOINT") == 0);
	}
	size_t n = 0;
	const devidp_user *users = devidp_demo_users(&n);
	for (size_t i = 0; i < n; i++) {
		if (users[i].cpr) {
			char digits[11];
			REQUIRE(id_cpr_normalize(users[i].cpr, digits) == 0);
			CHECK(!storage_contains(digits));
		}
		if (users[i].mitid_uuid)
			CHECK(!storage_contains(users[i].mitid_uuid));
		if (users[i].upn)
			CHECK(!storage_contains(users[i].upn));
	}
	/* The scan itself works: the tenant id is stored in clear. */
	CHECK(storage_contains("jobcenter"));
	/* Nor does the log carry them. */
	for (size_t i = 0; i < n; i++)
		if (users[i].cpr)
			CHECK(!file_contains(relay.log_path, users[i].cpr));
}

static devidp *provider_at(const char *issuer, const char *key_dir)
{
	devidp_config cfg = { .profile = ID_PROFILE_MITID_BROKER, .issuer = issuer,
			      .client_id = "os2wakks", .key_dir = key_dir };
	devidp *d = NULL;
	return devidp_open(&cfg, &d) == 0 ? d : NULL;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void provider_key_rotation_reloads_the_key_set_once(void)
{
	/* A configured (not development) provider whose key set is a file. */
	char dir[] = "/tmp/wakks-jwks-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char jwks[300], key_a[300], key_b[300], conf[2048];
	snprintf(jwks, sizeof jwks, "%s/jwks.json", dir);
	snprintf(key_a, sizeof key_a, "%s/a", dir);
	snprintf(key_b, sizeof key_b, "%s/b", dir);
	const char *issuer = "https://broker.test/mitid";
	devidp *a = provider_at(issuer, key_a), *b = provider_at(issuer, key_b);
	REQUIRE(a && b);
	REQUIRE(write_text(jwks, devidp_jwks_json(a)) == 0);
	snprintf(conf, sizeof conf,
		 "[idp broker]\nissuer = %s\naudience = os2wakks\njwks_file = %s\nalgs = ES256\n"
		 "kind = citizen\nprofile = mitid-broker\n[tenant testby]\nname = Testby\n"
		 "cvr = 29189803\nidps = broker\n[unit testby/jobcenter]\nname = Jobcenter\n",
		 issuer, jwks);
	struct relay_proc r2;
	REQUIRE(relay_proc_start(&r2, conf, false) == 0);

	struct tdev d;
	tdev_init(&d, r2.port);
	CHECK_EQ_INT(register_with(&d, a, (devidp_mint_opts){ .login = "anna" }), PROTO_T_REGISTERED);
	/* The provider rotates to key b: the relay reloads the file on the unknown kid. */
	REQUIRE(write_text(jwks, devidp_jwks_json(b)) == 0);
	tdev_free(&d);
	tdev_init(&d, r2.port);
	CHECK_EQ_INT(register_with(&d, b, (devidp_mint_opts){ .login = "bo" }), PROTO_T_REGISTERED);
	CHECK(relay_log_contains(&r2, "event=jwks_reloaded idp=broker keys=1"));
	/* Key a is gone; another unknown kid does not make the relay read the file again. */
	tdev_free(&d);
	tdev_init(&d, r2.port);
	CHECK_EQ_INT(register_with(&d, a, (devidp_mint_opts){ .login = "anna" }), PROTO_T_ERROR);
	tdev_free(&d);
	/* A reload (SIGHUP) reads the providers' key sets at once, also a file of another name: the
	 * operator need not wait out the minute between reads on unknown kids. */
	char jwks2[300];
	snprintf(jwks2, sizeof jwks2, "%s/jwks-2.json", dir);
	REQUIRE(write_text(jwks2, devidp_jwks_json(a)) == 0);
	char *text = NULL;
	{
		FILE *f = fopen(r2.config_path, "r");
		REQUIRE(f);
		char buf[4096];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *at = strstr(buf, jwks);
		REQUIRE(at);
		size_t cap = n + sizeof jwks2;
		text = malloc(cap);
		REQUIRE(text);
		snprintf(text, cap, "%.*s%s%s", (int)(at - buf), buf, jwks2, at + strlen(jwks));
	}
	REQUIRE(write_text(r2.config_path, text) == 0);
	free(text);
	kill(r2.pid, SIGHUP);
	for (int i = 0; i < 100 && !relay_log_contains(&r2, "event=reloaded"); i++)
		usleep(50 * 1000);
	CHECK(relay_log_contains(&r2, "event=reloaded"));
	tdev_init(&d, r2.port);
	CHECK_EQ_INT(register_with(&d, a, (devidp_mint_opts){ .login = "anna" }), PROTO_T_REGISTERED);
	tdev_free(&d);
	/* A key set file that is not there: the reload is refused and the keys in use stay. */
	REQUIRE(unlink(jwks2) == 0);
	kill(r2.pid, SIGHUP);
	for (int i = 0; i < 100 && !relay_log_contains(&r2, "event=reload_refused"); i++)
		usleep(50 * 1000);
	CHECK(relay_log_contains(&r2, "event=jwks_unreadable idp=broker"));
	CHECK(relay_log_contains(&r2, "event=reload_refused"));
	tdev_init(&d, r2.port);
	CHECK_EQ_INT(register_with(&d, a, (devidp_mint_opts){ .login = "bo" }), PROTO_T_REGISTERED);
	tdev_free(&d);
	CHECK_EQ_INT(relay_proc_stop(&r2), 0);
	relay_proc_cleanup(&r2);
	devidp_close(a);
	devidp_close(b);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	mitid = open_provider("dev-mitid", ID_PROFILE_MITID_BROKER);
	adfs = open_provider("dev-adfs", ID_PROFILE_ADFS);
	if (!mitid || !adfs)
		return 1;
	RUN(citizen_and_caseworker_register);
	RUN(every_bad_token_is_refused);
	RUN(replayed_token_on_fresh_connection_refused);
	RUN(storage_holds_no_raw_person_identifier);
	RUN(provider_key_rotation_reloads_the_key_set_once);
	devidp_close(mitid);
	devidp_close(adfs);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
