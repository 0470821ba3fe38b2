/* SPDX-License-Identifier: MPL-2.0 */
/* Authorization against a real relay (issue 15 items 1, 2, 3, 9): a revocation or erasure by an
 * operator command closes the device's open connection at once; a caseworker writes to a citizen
 * only as a member of one of its own units, whose journal device gets the message, and only with
 * the citizen's consent for that unit, by the same rule the CPR look-up uses; a group mapping that
 * no longer holds after a restart ends the unit membership; a caseworker device's attestation
 * expires and is renewed by registering its identity key again. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"
#include "wakks_devidp.h"

/* The demo tenant, with dennis as its journal device. */
#define TENANT_CONFIG                                                                        \
	"[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = dev-mitid, dev-adfs\n"  \
	"journal_upns = dennis.lund@varde.dk\n"                                              \
	"[unit varde/jobcenter]\nname = Jobcenter\ngroups = varde-jobcenter\n"               \
	"[unit varde/borgerservice]\nname = Borgerservice\ngroups = varde-borgerservice\n"

static struct relay_proc relay;
static char text_version[33];
static uint8_t text_sha[32];

/* spec/consent.md §2-§3: a grant (1) or withdrawal (2) by d for varde, or for one unit of it. */
static int consent(struct tdev *d, uint8_t kind, const char *unit)
{
	return tdev_consent(d, kind, "varde", unit, text_version, text_sha);
}

static int lookup(struct tdev *d, const char *cpr)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CITIZEN_LOOKUP, 0);
	f.body.citizen_lookup.cpr = (proto_str){ cpr, strlen(cpr) };
	return tdev_request(d, &f, 5000);
}

/* from writes "hej" to the citizen `to` as a member of unit (NULL: none), to exactly `devs`. */
static int write_to(struct tdev *from, const struct tdev *to, const char *unit,
		    const uint8_t (*devs)[16], size_t n_devs)
{
	uint8_t cmid[16], acc[1][16];
	randombytes_buf(cmid, 16);
	memcpy(acc[0], to->account_id, 16);
	return tdev_send(from, cmid, (const uint8_t(*)[16])acc, 1, unit ? "varde" : NULL, unit, devs,
			 n_devs, "hej", 3, false);
}

static int command(char *const args[], const char *input)
{
	char *out = NULL, *err = NULL;
	int rc = relay_run_command_io(args, input, &out, &err);
	if (rc != 0)
		fprintf(stderr, "  command %s: status %d: %s%s", args[3], rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
	return rc;
}

/* Item 1: revoke-caseworker and erase-citizen run as other processes on the same storage; the
 * relay closes the open connections of the devices they revoke (4004), an idle one within a
 * housekeeping tick, and answers no request of theirs any more. */
static void operator_revocation_closes_open_connections(void)
{
	struct tdev anna, bo, camilla;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	tdev_init(&camilla, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 2) == 0);
	REQUIRE(tdev_register(&bo, "dev-mitid", "bo", 2) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	REQUIRE(tconsent_text(relay.port, "varde", text_version, text_sha) == 0);
	CHECK_EQ_INT(consent(&anna, 1, ""), PROTO_T_OK);
	const devidp_user *a = devidp_demo_user("anna"), *b = devidp_demo_user("bo"),
			  *cw = devidp_demo_user("camilla");
	REQUIRE(a && b && cw);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);

	char *revoke[] = { (char *)relay_binary(), "--config", relay.config_path, "--dev",
			   "revoke-caseworker", "varde", (char *)cw->upn, NULL };
	CHECK_EQ_INT(command(revoke, NULL), 0);
	/* Idle: closed by the relay without a request. */
	CHECK_EQ_INT(tdev_wait(&camilla, PROTO_T_DELIVER, 5000), -1);
	CHECK_EQ_INT(camilla.ws.close_code, 4004);

	char *erase[] = { (char *)relay_binary(), "--config", relay.config_path, "--dev",
			  "erase-citizen", NULL };
	char input[32];
	snprintf(input, sizeof input, "%s\n", b->cpr);
	CHECK_EQ_INT(command(erase, input), 0);
	/* A request right after: a close, never an answer. */
	proto_frame f;
	proto_frame_init(&f, PROTO_T_CONSENT_LIST, 0);
	CHECK_EQ_INT(tdev_request(&bo, &f, 5000), -1);
	CHECK_EQ_INT(bo.ws.close_code, 4004);
	/* The revoked caseworker cannot come back on a new connection either. */
	tdev_disconnect(&camilla);
	CHECK(tdev_login(&camilla) != 0);
	tdev_free(&anna);
	tdev_free(&bo);
	tdev_free(&camilla);
}

/* Items 3 and 9: the unit a caseworker names must be its own, the journal device gets the
 * message, consent is checked against that unit, and the look-up answers by the same rule. */
static void caseworker_writes_only_as_member_of_own_unit(void)
{
	struct tdev anna, camilla, journal;
	tdev_init(&anna, relay.port);
	tdev_init(&camilla, relay.port);
	tdev_init(&journal, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 2) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	REQUIRE(tdev_register(&journal, "dev-adfs", "dennis", 2) == 0);
	const devidp_user *a = devidp_demo_user("anna");
	REQUIRE(a);
	/* anna's account keeps her device of the test before: the required set is all of hers, then
	 * the journal device. */
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_SET_GET, 0);
	f.body.device_set_get.account = anna.account_id;
	REQUIRE(tdev_request(&anna, &f, 5000) == PROTO_T_DEVICE_SET);
	size_t na = anna.frame.body.device_set.count;
	REQUIRE(na >= 1 && na < 8);
	uint8_t devs[8][16];
	for (size_t i = 0; i < na; i++)
		memcpy(devs[i], anna.frame.body.device_set.list[i].device, 16);
	memcpy(devs[na], journal.device_id, 16);

	/* anna (who consented to the whole municipality in the test before) withdraws it and
	 * consents to Borgerservice only; camilla is in Jobcenter. */
	CHECK_EQ_INT(consent(&anna, 2, ""), PROTO_T_OK);
	usleep(5000);
	CHECK_EQ_INT(consent(&anna, 1, "borgerservice"), PROTO_T_OK);
	CHECK_EQ_INT(write_to(&camilla, &anna, "borgerservice", (const uint8_t(*)[16])devs, na + 1), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, na + 1), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_CONSENT_REQUIRED);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(!camilla.frame.body.citizen.reachable);

	/* Whole-municipality consent: a send without a unit would bypass the journal; refused. */
	CHECK_EQ_INT(consent(&anna, 1, ""), PROTO_T_OK);
	CHECK_EQ_INT(write_to(&camilla, &anna, NULL, (const uint8_t(*)[16])devs, na), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* Named with her unit, the journal device is one of the required recipients and gets it. */
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, na), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_DEVICE_MISMATCH);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, na + 1), PROTO_T_STORED);
	REQUIRE(tdev_wait(&journal, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK(journal.frame.body.deliver.unit.len == 9 &&
	      memcmp(journal.frame.body.deliver.unit.ptr, "jobcenter", 9) == 0);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);

	/* A unit grant, then a municipality-wide withdrawal: the later record decides, for the
	 * look-up and the send alike. */
	CHECK_EQ_INT(consent(&anna, 1, "jobcenter"), PROTO_T_OK);
	usleep(5000); /* the records' receive times differ */
	CHECK_EQ_INT(consent(&anna, 2, ""), PROTO_T_OK);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(!camilla.frame.body.citizen.reachable);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, na + 1), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_CONSENT_REQUIRED);
	/* A unit grant after it narrows consent to that unit: both allow it again. */
	usleep(5000);
	CHECK_EQ_INT(consent(&anna, 1, "jobcenter"), PROTO_T_OK);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, na + 1), PROTO_T_STORED);
	tdev_free(&anna);
	tdev_free(&camilla);
	tdev_free(&journal);
}

/* Item 9, the citizen's side: a message to a caseworker's account names the caseworker's unit,
 * so that the unit's journal device receives it as well; without a unit it is refused. */
static void citizen_writes_to_a_caseworker_through_the_unit(void)
{
	struct tdev anna, camilla, journal;
	tdev_init(&anna, relay.port);
	tdev_init(&camilla, relay.port);
	tdev_init(&journal, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 2) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	REQUIRE(tdev_register(&journal, "dev-adfs", "dennis", 2) == 0);
	uint8_t to[1][16], cmid[16], devs[PROTO_MAX_RECIPIENT_DEVICES][16];
	memcpy(to[0], camilla.account_id, 16);
	memcpy(devs[0], camilla.device_id, 16);
	randombytes_buf(cmid, sizeof cmid);
	/* The device set is checked first: complete it from the mismatch, then the unit rule. */
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, 1, "x", 1, false),
		     PROTO_T_ERROR);
	REQUIRE(anna.frame.body.error.code == -PROTO_E_DEVICE_MISMATCH);
	size_t n = 1;
	for (uint32_t i = 0; i < anna.frame.body.error.details.missing_count; i++)
		memcpy(devs[n++], anna.frame.body.error.details.missing[i], 16);
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, n, "x", 1, false),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* With the unit: the required set (learnt from the mismatch) holds the journal device. */
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, "varde", "jobcenter",
			       (const uint8_t(*)[16])devs, n, "x", 1, false),
		     PROTO_T_ERROR);
	REQUIRE(anna.frame.body.error.code == -PROTO_E_DEVICE_MISMATCH);
	bool journal_required = false;
	for (uint32_t i = 0; i < anna.frame.body.error.details.missing_count; i++) {
		journal_required |= memcmp(anna.frame.body.error.details.missing[i], journal.device_id, 16) == 0;
		memcpy(devs[n++], anna.frame.body.error.details.missing[i], 16);
	}
	CHECK(journal_required);
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, "varde", "jobcenter",
			       (const uint8_t(*)[16])devs, n, "x", 1, false),
		     PROTO_T_STORED);
	REQUIRE(tdev_wait(&journal, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK_MEM(journal.frame.body.deliver.account, anna.account_id, 16);
	tdev_free(&anna);
	tdev_free(&camilla);
	tdev_free(&journal);
}

static int unit_device_count(struct tdev *asker, const char *unit)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_SET_GET, 0);
	f.body.device_set_get.tenant = (proto_str){ "varde", 5 };
	f.body.device_set_get.unit = (proto_str){ unit, strlen(unit) };
	if (tdev_request(asker, &f, 5000) != PROTO_T_DEVICE_SET)
		return -1;
	return (int)asker->frame.body.device_set.count;
}

/* Item 2: a caseworker device's attestation lasts caseworker_attestation_seconds; then it may
 * authenticate but not reach citizens until it registers its identity key again, which keeps its
 * device id. After a restart with a group mapping that no longer holds, the caseworker is no
 * member of the unit any more. */
static void attestation_expires_and_membership_follows_configuration(void)
{
	struct relay_proc r2;
	REQUIRE(relay_proc_start(&r2, TENANT_CONFIG "[limits]\ncaseworker_attestation_seconds = 2\n",
				 true) == 0);
	int port = r2.port;
	struct tdev anna, camilla;
	tdev_init(&anna, port);
	tdev_init(&camilla, port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 2) == 0);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	REQUIRE(tconsent_text(port, "varde", text_version, text_sha) == 0);
	CHECK_EQ_INT(consent(&anna, 1, ""), PROTO_T_OK);
	const devidp_user *a = devidp_demo_user("anna");
	REQUIRE(a);
	uint8_t devs[1][16];
	memcpy(devs[0], anna.device_id, 16);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);

	sleep(3);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, 1), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* Still a device: it authenticates and stays in its unit's device set. */
	tdev_disconnect(&camilla);
	CHECK_EQ_INT(tdev_login(&camilla), 0);
	CHECK_EQ_INT(unit_device_count(&anna, "jobcenter"), 1);
	/* Re-attestation: register with the same identity key re-binds the same device. */
	uint8_t before[16];
	memcpy(before, camilla.device_id, 16);
	tdev_disconnect(&camilla);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 2) == 0);
	CHECK_MEM(camilla.device_id, before, 16);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_CITIZEN);
	CHECK(camilla.frame.body.citizen.reachable);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, 1), PROTO_T_STORED);

	/* The unit's group mapping changes; the relay restarts with it. */
	tdev_disconnect(&camilla);
	tdev_disconnect(&anna);
	CHECK_EQ_INT(relay_proc_stop(&r2), 0);
	char *conf = NULL;
	size_t len = 0;
	FILE *cf = fopen(r2.config_path, "r");
	REQUIRE(cf != NULL);
	FILE *mem = open_memstream(&conf, &len);
	char line[512];
	while (fgets(line, sizeof line, cf))
		fputs(strcmp(line, "groups = varde-jobcenter\n") == 0 ? "groups = varde-jobcenter-ny\n" : line, mem);
	fclose(cf);
	fclose(mem);
	cf = fopen(r2.config_path, "w");
	REQUIRE(cf != NULL);
	fputs(conf, cf);
	fclose(cf);
	free(conf);
	REQUIRE(relay_proc_restart(&r2, true) == 0);
	anna.port = camilla.port = r2.port;
	REQUIRE(tdev_login(&anna) == 0);
	CHECK_EQ_INT(tdev_login(&camilla), 0);
	CHECK_EQ_INT(unit_device_count(&anna, "jobcenter"), 0);
	CHECK_EQ_INT(lookup(&camilla, a->cpr), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	CHECK_EQ_INT(write_to(&camilla, &anna, "jobcenter", (const uint8_t(*)[16])devs, 1), PROTO_T_ERROR);
	CHECK_EQ_INT(camilla.frame.body.error.code, -PROTO_E_FORBIDDEN);
	/* Her groups no longer map to any unit: re-attesting is refused. */
	tdev_disconnect(&camilla);
	CHECK(tdev_register(&camilla, "dev-adfs", "camilla", 2) != 0);
	tdev_free(&anna);
	tdev_free(&camilla);
	relay_proc_cleanup(&r2);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, TENANT_CONFIG, true) != 0)
		return 1;
	RUN(operator_revocation_closes_open_connections);
	RUN(caseworker_writes_only_as_member_of_own_unit);
	RUN(citizen_writes_to_a_caseworker_through_the_unit);
	RUN(attestation_expires_and_membership_follows_configuration);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
