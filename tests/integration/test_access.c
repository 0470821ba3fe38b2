/* SPDX-License-Identifier: MPL-2.0 */
/* Who may take what from whom, against a real relay with two municipalities: device sets and
 * one-time prekeys only between parties who may talk to each other, bundle fetches limited per
 * device, a signed-prekey rotation that must bring a new id, one device per connection when
 * registrations are pipelined, device labels, and one sender's share of a mailbox. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_crypto.h"
#include "wakks_devidp.h"
#include "wakks_identity.h"

static struct relay_proc relay;
static char jwks_dir[] = "/tmp/wakks-access-XXXXXX";
static devidp *esbjerg_adfs, *dev_mitid;
/* anna and bo: citizens; camilla, dennis: Varde caseworkers (unit jobcenter); erik: an Esbjerg
 * caseworker (a caseworker of another municipality). */
static struct tdev anna, bo, camilla, dennis, erik;

#define ESBJERG_ISSUER "https://adfs.esbjerg.test/adfs"

/* Registers d with a token minted by provider p for the demo user login. */
static int register_minted(struct tdev *d, devidp *p, const char *login, uint32_t n_opk)
{
	char nonce[ID_NONCE_BUF_BYTES], *token = NULL;
	if (tdev_connect(d) != 0 || id_nonce_compute(devidp_issuer(p), d->ik_pk, d->challenge, nonce) != 0)
		return -1;
	devidp_mint_opts o = { .login = login, .nonce = nonce };
	if (devidp_mint(p, &o, (int64_t)time(NULL), &token) != 0)
		return -1;
	int t = tdev_register_token(d, token, n_opk);
	free(token);
	return t == PROTO_T_REGISTERED ? 0 : -1;
}

static int target_request(struct tdev *asker, uint32_t type, const uint8_t *account, const char *tenant,
			  const char *unit)
{
	proto_frame f;
	proto_frame_init(&f, type, 0);
	proto_target *t = type == PROTO_T_BUNDLES_FETCH ? &f.body.bundles_fetch : &f.body.device_set_get;
	t->account = account;
	if (tenant) {
		t->tenant = (proto_str){ tenant, strlen(tenant) };
		t->unit = (proto_str){ unit, strlen(unit) };
	}
	return tdev_request(asker, &f, 5000);
}

static int error_code(const struct tdev *d)
{
	return -d->frame.body.error.code;
}

static int key_count(struct tdev *d)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	if (tdev_request(d, &f, 5000) != PROTO_T_KEY_COUNT)
		return -1;
	return (int)d->frame.body.key_count.count;
}

/* spec/consent.md §2: anna's grant for the whole of Varde, signed by her device. */
static int anna_grants_varde(void)
{
	int status = 0;
	char *body = NULL;
	if (https_request(relay.port, "GET", "/consent/varde", NULL, NULL, &status, &body, NULL, 0) != 0 ||
	    status != 200)
		return -1;
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	const char *v = json_string_value(json_object_get(j, "version"));
	const char *h = json_string_value(json_object_get(j, "sha256"));
	char version[33] = "", hex[65] = "";
	if (v && h) {
		snprintf(version, sizeof version, "%s", v);
		snprintf(hex, sizeof hex, "%s", h);
	}
	json_decref(j);
	if (!version[0] || strlen(hex) != 64)
		return -1;
	uint8_t rec[512], msg[600], sig[64];
	size_t n = 0;
	rec[n++] = 1;
	rec[n++] = 1;
	memcpy(rec + n, anna.account_id, 16);
	n += 16;
	memcpy(rec + n, anna.device_id, 16);
	n += 16;
	const char *strs[] = { "varde", "", "digital-kommunikation", version };
	for (int i = 0; i < 4; i++) {
		rec[n++] = (uint8_t)strlen(strs[i]);
		memcpy(rec + n, strs[i], strlen(strs[i]));
		n += strlen(strs[i]);
	}
	if (sodium_hex2bin(rec + n, 32, hex, strlen(hex), NULL, NULL, NULL) != 0)
		return -1;
	n += 32;
	const char *tail[] = { "da", "wakks-test/1" };
	for (int i = 0; i < 2; i++) {
		rec[n++] = (uint8_t)strlen(tail[i]);
		memcpy(rec + n, tail[i], strlen(tail[i]));
		n += strlen(tail[i]);
	}
	uint64_t t = (uint64_t)time(NULL) * 1000;
	for (int i = 7; i >= 0; i--)
		rec[n++] = (uint8_t)(t >> (8 * i));
	memcpy(msg, "wakks.v1 consent", 17);
	memcpy(msg + 17, rec, n);
	crypto_sign_detached(sig, NULL, msg, 17 + n, anna.ik_sk);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CONSENT_GRANT, 0);
	f.body.consent_grant.record = (proto_bytes){ rec, n };
	f.body.consent_grant.sig = sig;
	return tdev_request(&anna, &f, 5000) == PROTO_T_OK ? 0 : -1;
}

static void device_sets_of_strangers_are_forbidden(void)
{
	/* A citizen asking for another citizen's devices (spec/protocol.md §7). */
	CHECK_EQ_INT(target_request(&anna, PROTO_T_DEVICE_SET_GET, bo.account_id, NULL, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&anna), PROTO_E_FORBIDDEN);
	/* Her own account, a municipality's caseworker and unit: she may write to them. */
	CHECK_EQ_INT(target_request(&anna, PROTO_T_DEVICE_SET_GET, anna.account_id, NULL, NULL),
		     PROTO_T_DEVICE_SET);
	CHECK_EQ_INT(target_request(&anna, PROTO_T_DEVICE_SET_GET, camilla.account_id, NULL, NULL),
		     PROTO_T_DEVICE_SET);
	CHECK_EQ_INT(target_request(&anna, PROTO_T_DEVICE_SET_GET, NULL, "esbjerg", "jobcenter"),
		     PROTO_T_DEVICE_SET);
	/* A caseworker of another municipality sees neither Varde's units nor its caseworkers. */
	CHECK_EQ_INT(target_request(&erik, PROTO_T_DEVICE_SET_GET, NULL, "varde", "jobcenter"), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&erik), PROTO_E_FORBIDDEN);
	CHECK_EQ_INT(target_request(&erik, PROTO_T_DEVICE_SET_GET, camilla.account_id, NULL, NULL),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&erik), PROTO_E_FORBIDDEN);
	/* An unknown unit is still not_found. */
	CHECK_EQ_INT(target_request(&anna, PROTO_T_DEVICE_SET_GET, NULL, "varde", "nowhere"), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&anna), PROTO_E_NOT_FOUND);
}

static void one_time_prekeys_only_for_parties_who_may_talk(void)
{
	/* Strangers take nothing: bo's keys stay with bo, the Varde unit's with its caseworkers. */
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(target_request(&anna, PROTO_T_BUNDLES_FETCH, bo.account_id, NULL, NULL),
			     PROTO_T_ERROR);
		CHECK_EQ_INT(error_code(&anna), PROTO_E_FORBIDDEN);
		CHECK_EQ_INT(target_request(&erik, PROTO_T_BUNDLES_FETCH, NULL, "varde", "jobcenter"),
			     PROTO_T_ERROR);
		CHECK_EQ_INT(error_code(&erik), PROTO_E_FORBIDDEN);
	}
	CHECK_EQ_INT(key_count(&bo), 5);
	CHECK_EQ_INT(key_count(&camilla), 5);
	CHECK_EQ_INT(key_count(&dennis), 5);
	/* A caseworker reaches a citizen only with her consent (another municipality never). */
	CHECK_EQ_INT(target_request(&camilla, PROTO_T_BUNDLES_FETCH, anna.account_id, NULL, NULL),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), PROTO_E_CONSENT_REQUIRED);
	CHECK_EQ_INT(key_count(&anna), 5);
	REQUIRE(anna_grants_varde() == 0);
	CHECK_EQ_INT(target_request(&camilla, PROTO_T_BUNDLES_FETCH, anna.account_id, NULL, NULL),
		     PROTO_T_BUNDLES);
	CHECK_EQ_INT(camilla.frame.body.bundles.count, 1);
	CHECK_EQ_INT(target_request(&erik, PROTO_T_BUNDLES_FETCH, anna.account_id, NULL, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&erik), PROTO_E_CONSENT_REQUIRED);
	CHECK_EQ_INT(key_count(&anna), 4); /* camilla's one fetch */
	/* Colleagues, and a citizen writing to a unit. */
	CHECK_EQ_INT(target_request(&camilla, PROTO_T_BUNDLES_FETCH, dennis.account_id, NULL, NULL),
		     PROTO_T_BUNDLES);
	CHECK_EQ_INT(target_request(&bo, PROTO_T_BUNDLES_FETCH, NULL, "varde", "jobcenter"), PROTO_T_BUNDLES);
	CHECK_EQ_INT(bo.frame.body.bundles.count, 2);
}

static void bundle_fetches_limited_per_device(void)
{
	/* bundle_fetches_per_minute = 6; bo has used one. The bucket belongs to the device: a new
	 * connection does not refill it. */
	int ok = 0, limited = 0;
	for (int i = 0; i < 8; i++) {
		if (i == 4)
			REQUIRE(tdev_login(&bo) == 0);
		int t = target_request(&bo, PROTO_T_BUNDLES_FETCH, camilla.account_id, NULL, NULL);
		if (t == PROTO_T_BUNDLES)
			ok++;
		else if (t == PROTO_T_ERROR && error_code(&bo) == PROTO_E_RATE_LIMITED) {
			limited++;
			CHECK(bo.frame.body.error.has_details && bo.frame.body.error.details.retry_ms > 0);
		}
	}
	CHECK_EQ_INT(ok, 5);
	CHECK_EQ_INT(limited, 3);
	/* Another device has its own budget. */
	CHECK_EQ_INT(target_request(&anna, PROTO_T_BUNDLES_FETCH, camilla.account_id, NULL, NULL),
		     PROTO_T_BUNDLES);
}

static int rotate(struct tdev *d, uint32_t id)
{
	uint8_t pub[32], sec[32], sig[64], msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	crypto_box_keypair(pub, sec);
	uint64_t now = (uint64_t)time(NULL) * 1000;
	wc_signed_prekey_message(id, pub, now, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, d->ik_sk);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_SPK_ROTATE, 0);
	f.body.spk_rotate.spk = (proto_signed_prekey){ id, pub, now, sig };
	return tdev_request(d, &f, 5000);
}

static void spk_rotation_needs_a_new_id(void)
{
	/* Registration stored signed prekey id 1 (spec/protocol.md §6.2). */
	CHECK_EQ_INT(rotate(&dennis, 1), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&dennis), PROTO_E_INVALID);
	CHECK_EQ_INT(rotate(&dennis, 2), PROTO_T_OK);
	CHECK_EQ_INT(rotate(&dennis, 2), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&dennis), PROTO_E_INVALID);
	CHECK_EQ_INT(target_request(&camilla, PROTO_T_BUNDLES_FETCH, dennis.account_id, NULL, NULL),
		     PROTO_T_BUNDLES);
	CHECK_EQ_INT(camilla.frame.body.bundles.list[0].spk.id, 2);
}

/* bundles_fetch may name single devices: only their one-time prekeys are spent. */
static void bundles_fetch_names_single_devices(void)
{
	int cam = key_count(&camilla), den = key_count(&dennis);
	REQUIRE(cam >= 0 && den > 0);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_BUNDLES_FETCH, 0);
	f.body.bundles_fetch.tenant = (proto_str){ "varde", 5 };
	f.body.bundles_fetch.unit = (proto_str){ "jobcenter", 9 };
	f.body.bundles_fetch.devs[f.body.bundles_fetch.dev_count++] = dennis.device_id;
	f.body.bundles_fetch.devs[f.body.bundles_fetch.dev_count++] = bo.device_id; /* not a member */
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_BUNDLES);
	CHECK_EQ_INT(anna.frame.body.bundles.count, 1);
	CHECK(anna.frame.body.bundles.count == 1 &&
	      memcmp(anna.frame.body.bundles.list[0].device, dennis.device_id, 16) == 0 &&
	      anna.frame.body.bundles.list[0].has_opk);
	CHECK_EQ_INT(key_count(&dennis), den - 1);
	CHECK_EQ_INT(key_count(&camilla), cam);
	/* Naming only devices outside the set finds nothing. */
	f.body.bundles_fetch.dev_count = 0;
	f.body.bundles_fetch.devs[f.body.bundles_fetch.dev_count++] = bo.device_id;
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&anna), PROTO_E_NOT_FOUND);
}

static int devices_of(struct tdev *d)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICES_LIST, 0);
	if (tdev_request(d, &f, 5000) != PROTO_T_DEVICES)
		return -1;
	return (int)d->frame.body.devices.count;
}

/* Encodes a register frame of identity key ik (secret sk) carrying token. */
static size_t register_frame(uint8_t *buf, size_t cap, uint32_t rid, const uint8_t ik[32],
			     const uint8_t sk[64], const char *token)
{
	static proto_frame f;
	proto_frame_init(&f, PROTO_T_REGISTER, rid);
	uint8_t pub[32], sec[32], sig[64], msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	crypto_box_keypair(pub, sec);
	uint64_t now = (uint64_t)time(NULL) * 1000;
	wc_signed_prekey_message(1, pub, now, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
	f.body.reg.attestation = (proto_str){ token, strlen(token) };
	f.body.reg.identity_key = ik;
	f.body.reg.spk = (proto_signed_prekey){ 1, pub, now, sig };
	size_t len = 0;
	return proto_frame_encode(&f, buf, cap, &len) == 0 ? len : 0;
}

static void pipelined_registers_bind_one_device(void)
{
	int before = devices_of(&bo);
	REQUIRE(before > 0);
	/* Two tokens, each bound to its own identity key and this connection's challenge. */
	struct tdev d;
	tdev_init(&d, relay.port);
	REQUIRE(tdev_connect(&d) == 0);
	uint8_t ik2[32], sk2[64];
	crypto_sign_keypair(ik2, sk2);
	char n1[ID_NONCE_BUF_BYTES], n2[ID_NONCE_BUF_BYTES], *t1 = NULL, *t2 = NULL;
	REQUIRE(id_nonce_compute(devidp_issuer(dev_mitid), d.ik_pk, d.challenge, n1) == 0);
	REQUIRE(id_nonce_compute(devidp_issuer(dev_mitid), ik2, d.challenge, n2) == 0);
	devidp_mint_opts o1 = { .login = "bo", .nonce = n1 }, o2 = { .login = "bo", .nonce = n2 };
	REQUIRE(devidp_mint(dev_mitid, &o1, (int64_t)time(NULL), &t1) == 0);
	REQUIRE(devidp_mint(dev_mitid, &o2, (int64_t)time(NULL), &t2) == 0);
	static uint8_t f1[32768], f2[32768];
	size_t l1 = register_frame(f1, sizeof f1, 1, d.ik_pk, d.ik_sk, t1);
	size_t l2 = register_frame(f2, sizeof f2, 2, ik2, sk2, t2);
	REQUIRE(l1 && l2);
	REQUIRE(tdev_send_raw(&d, f1, l1) == 0);
	REQUIRE(tdev_send_raw(&d, f2, l2) == 0);
	/* One answer per request: the first registers, the second is refused. */
	REQUIRE(tdev_wait(&d, PROTO_T_REGISTERED, 10000) == PROTO_T_REGISTERED);
	CHECK_EQ_INT(d.frame.request_id, 1);
	memcpy(d.device_id, d.frame.body.registered.device, 16);
	REQUIRE(tdev_wait(&d, PROTO_T_ERROR, 5000) == PROTO_T_ERROR);
	CHECK_EQ_INT(d.frame.request_id, 2);
	CHECK_EQ_INT(error_code(&d), PROTO_E_ALREADY_AUTHENTICATED);
	/* The account gained exactly one device, the connection's. */
	CHECK_EQ_INT(devices_of(&bo), before + 1);
	CHECK_EQ_INT(devices_of(&d), before + 1);
	free(t1);
	free(t2);
	tdev_free(&d);
}

/* The label devices_list reports for device dev of d's account: 1 with it in out (NUL-terminated),
 * 0 when the device is listed without one, -1 when it is not listed. */
static int listed_label(struct tdev *d, const uint8_t dev[16], char out[PROTO_MAX_LABEL_BYTES + 1])
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICES_LIST, 0);
	if (tdev_request(d, &f, 5000) != PROTO_T_DEVICES)
		return -1;
	const proto_devices *l = &d->frame.body.devices;
	for (uint32_t i = 0; i < l->count; i++) {
		if (memcmp(l->list[i].device, dev, 16) != 0)
			continue;
		if (!l->list[i].label.ptr)
			return 0;
		if (l->list[i].label.len > PROTO_MAX_LABEL_BYTES)
			return -1;
		memcpy(out, l->list[i].label.ptr, l->list[i].label.len);
		out[l->list[i].label.len] = '\0';
		return 1;
	}
	return -1;
}

/* A register's label is stored and listed by devices (spec/protocol.md §5.1-5.2); a device
 * registered without one is listed without one; a re-attestation with a label replaces it, one
 * without keeps it. */
static void device_labels_round_trip(void)
{
	char label[PROTO_MAX_LABEL_BYTES + 1];
	struct tdev d, again, third;
	tdev_init(&d, relay.port);
	d.label = "Firefox p\xc3\xa5 Windows";
	REQUIRE(tdev_register(&d, "dev-mitid", "anna", 1) == 0);
	CHECK_EQ_INT(listed_label(&anna, d.device_id, label), 1);
	CHECK(strcmp(label, "Firefox p\xc3\xa5 Windows") == 0);
	CHECK_EQ_INT(listed_label(&d, anna.device_id, label), 0);
	int count = devices_of(&anna);

	/* re-attestation (same identity key) with another label: the same device, relabelled */
	tdev_init(&again, relay.port);
	tdev_copy_identity(&again, &d);
	again.label = "iPhone";
	REQUIRE(tdev_register(&again, "dev-mitid", "anna", 0) == 0);
	CHECK_MEM(again.device_id, d.device_id, 16);
	CHECK_EQ_INT(devices_of(&anna), count);
	CHECK_EQ_INT(listed_label(&anna, d.device_id, label), 1);
	CHECK(strcmp(label, "iPhone") == 0);

	/* re-attestation without a label keeps the stored one */
	tdev_init(&third, relay.port);
	tdev_copy_identity(&third, &d);
	REQUIRE(tdev_register(&third, "dev-mitid", "anna", 0) == 0);
	CHECK_EQ_INT(listed_label(&anna, d.device_id, label), 1);
	CHECK(strcmp(label, "iPhone") == 0);
	tdev_free(&d);
	tdev_free(&again);
	tdev_free(&third);
}

static int send_to_unit(struct tdev *from, const uint8_t (*devs)[16], size_t n)
{
	uint8_t cmid[16];
	randombytes_buf(cmid, sizeof cmid);
	return tdev_send(from, cmid, NULL, 0, "varde", "jobcenter", devs, n, "til enheden", 11, false);
}

/* With the unit's caseworkers offline, one citizen's pipelined sends fill only her share of their
 * mailboxes (mailbox_sender_max_envelopes); another citizen still gets through; and a device's
 * sends per minute are bounded across reconnects (sends_per_minute). */
static void one_sender_fills_only_its_share(void)
{
	struct relay_proc r2;
	REQUIRE(relay_proc_start(&r2, "[limits]\nmailbox_max_envelopes = 8\n"
				      "mailbox_sender_max_envelopes = 3\nsends_per_minute = 5\n", true) == 0);
	struct tdev a, b, cw1, cw2;
	struct tdev *all[] = { &a, &b, &cw1, &cw2 };
	for (int i = 0; i < 4; i++)
		tdev_init(all[i], r2.port);
	REQUIRE(tdev_register(&a, "dev-mitid", "anna", 1) == 0 && tdev_register(&b, "dev-mitid", "bo", 1) == 0 &&
		tdev_register(&cw1, "dev-adfs", "camilla", 1) == 0 &&
		tdev_register(&cw2, "dev-adfs", "dennis", 1) == 0);
	tdev_disconnect(&cw1);
	tdev_disconnect(&cw2);
	uint8_t devs[2][16];
	memcpy(devs[0], cw1.device_id, 16);
	memcpy(devs[1], cw2.device_id, 16);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(send_to_unit(&a, (const uint8_t(*)[16])devs, 2), PROTO_T_STORED);
	CHECK_EQ_INT(send_to_unit(&a, (const uint8_t(*)[16])devs, 2), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&a), PROTO_E_QUOTA_EXCEEDED);
	CHECK(a.frame.body.error.has_details && a.frame.body.error.details.limit == 3);
	/* The mailboxes are not full for everyone. */
	CHECK_EQ_INT(send_to_unit(&b, (const uint8_t(*)[16])devs, 2), PROTO_T_STORED);
	/* anna's fifth send is refused by her share, the sixth by her rate, also after a reconnect. */
	CHECK_EQ_INT(send_to_unit(&a, (const uint8_t(*)[16])devs, 2), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&a), PROTO_E_QUOTA_EXCEEDED);
	REQUIRE(tdev_login(&a) == 0);
	CHECK_EQ_INT(send_to_unit(&a, (const uint8_t(*)[16])devs, 2), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&a), PROTO_E_RATE_LIMITED);
	CHECK(a.frame.body.error.has_details && a.frame.body.error.details.retry_ms > 0);
	/* The caseworker finds anna's three and bo's one. */
	REQUIRE(tdev_login(&cw1) == 0);
	int from_a = 0, from_b = 0;
	while (tdev_wait(&cw1, PROTO_T_DELIVER, 1000) == PROTO_T_DELIVER) {
		from_a += memcmp(cw1.frame.body.deliver.account, a.account_id, 16) == 0;
		from_b += memcmp(cw1.frame.body.deliver.account, b.account_id, 16) == 0;
	}
	CHECK_EQ_INT(from_a, 3);
	CHECK_EQ_INT(from_b, 1);
	for (int i = 0; i < 4; i++)
		tdev_free(all[i]);
	CHECK_EQ_INT(relay_proc_stop(&r2), 0);
	relay_proc_cleanup(&r2);
}

static char *config(void)
{
	static char conf[4096];
	char key_dir[400], jwks[400];
	snprintf(key_dir, sizeof key_dir, "%s/esbjerg", jwks_dir);
	snprintf(jwks, sizeof jwks, "%s/esbjerg.jwks.json", jwks_dir);
	devidp_config c = { .profile = ID_PROFILE_ADFS, .issuer = ESBJERG_ISSUER, .client_id = "os2wakks",
			    .key_dir = key_dir };
	if (devidp_open(&c, &esbjerg_adfs) != 0)
		return NULL;
	FILE *f = fopen(jwks, "w");
	if (!f)
		return NULL;
	fputs(devidp_jwks_json(esbjerg_adfs), f);
	fclose(f);
	snprintf(conf, sizeof conf,
		 "[limits]\nbundle_fetches_per_minute = 6\n"
		 "[idp esbjerg-adfs]\nissuer = %s\naudience = os2wakks\njwks_file = %s\nalgs = RS256\n"
		 "kind = caseworker\nprofile = adfs\n"
		 "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = dev-mitid, dev-adfs\n"
		 "[unit varde/jobcenter]\nname = Jobcenter\ngroups = varde-jobcenter\n"
		 "[tenant esbjerg]\nname = Esbjerg Kommune\ncvr = 29189803\nidps = dev-mitid, esbjerg-adfs\n"
		 "[unit esbjerg/jobcenter]\nname = Jobcenter\ngroups = varde-jobcenter\n",
		 ESBJERG_ISSUER, jwks);
	return conf;
}

int main(void)
{
	if (sodium_init() < 0 || !mkdtemp(jwks_dir))
		return 1;
	const char *conf = config();
	if (!conf || relay_proc_start(&relay, conf, true) != 0)
		return 1;
	char issuer[256], key_dir[400];
	snprintf(issuer, sizeof issuer, "https://localhost:%d/dev-idp/dev-mitid", relay.port);
	snprintf(key_dir, sizeof key_dir, "%s/devidp", relay.data_dir);
	devidp_config mc = { .profile = ID_PROFILE_MITID_BROKER, .issuer = issuer, .client_id = "wakks-dev",
			     .key_dir = key_dir };
	if (devidp_open(&mc, &dev_mitid) != 0)
		return 1;
	struct tdev *all[] = { &anna, &bo, &camilla, &dennis, &erik };
	for (size_t i = 0; i < 5; i++)
		tdev_init(all[i], relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 5) != 0 || tdev_register(&bo, "dev-mitid", "bo", 5) != 0 ||
	    tdev_register(&camilla, "dev-adfs", "camilla", 5) != 0 ||
	    tdev_register(&dennis, "dev-adfs", "dennis", 5) != 0 ||
	    register_minted(&erik, esbjerg_adfs, "camilla", 5) != 0)
		return 1;
	RUN(device_sets_of_strangers_are_forbidden);
	RUN(one_time_prekeys_only_for_parties_who_may_talk);
	RUN(bundle_fetches_limited_per_device);
	RUN(spk_rotation_needs_a_new_id);
	RUN(bundles_fetch_names_single_devices);
	RUN(pipelined_registers_bind_one_device);
	RUN(device_labels_round_trip);
	RUN(one_sender_fills_only_its_share);
	for (size_t i = 0; i < 5; i++)
		tdev_free(all[i]);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	relay_proc_cleanup(&relay);
	devidp_close(esbjerg_adfs);
	devidp_close(dev_mitid);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", jwks_dir);
	CHECK(system(cmd) == 0);
	return TEST_RESULT();
}
