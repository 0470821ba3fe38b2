/* SPDX-License-Identifier: MPL-2.0 */
/* Two devices that start sessions with each other at the same moment (neither had one): each
 * receives the other's prekey envelope while holding its own new session, so each takes the
 * other's as current. Both then write on sessions the other no longer holds as current; the
 * previous session, kept, still opens them (spec/client.md §6), and the two settle on one.
 * Without it every later message between them was dropped as undecryptable. Here: two
 * caseworkers of one unit writing to each other at once, then back and forth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client_harness.h"
#include "relay_proc.h"
#include "test.h"

static struct relay_proc relay;
static char base[400], ca[400];
static struct th_dev camilla, dennis;
static uint8_t camilla_acc[16], dennis_acc[16];

static void crossing_first_messages_then_a_conversation(void)
{
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_open(&dennis, "dennis", base, relay.port, ca) == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	REQUIRE(th_register(&dennis, "dev-adfs", "dennis") == 0);
	wakks_account_id(camilla.c, camilla_acc);
	wakks_account_id(dennis.c, dennis_acc);
	/* Both queue before either pumps: both fetch a bundle and start a session. */
	wakks_target to_d = { dennis_acc, "varde", "jobcenter" };
	wakks_target to_c = { camilla_acc, "varde", "jobcenter" };
	REQUIRE(wakks_send_text(camilla.c, &to_d, "fra camilla 0", 13, NULL, NULL) == 0);
	REQUIRE(wakks_send_text(dennis.c, &to_c, "fra dennis 0", 12, NULL, NULL) == 0);
	CHECK_EQ_INT(th_wait_text(&dennis, "fra camilla 0", 10000), 0);
	CHECK_EQ_INT(th_wait_text(&camilla, "fra dennis 0", 10000), 0);
	for (int i = 1; i <= 4; i++) {
		char a[32], b[32];
		snprintf(a, sizeof a, "fra camilla %d", i);
		snprintf(b, sizeof b, "fra dennis %d", i);
		/* Crossing again, then one at a time. */
		REQUIRE(wakks_send_text(camilla.c, &to_d, a, strlen(a), NULL, NULL) == 0);
		if (i % 2)
			REQUIRE(wakks_send_text(dennis.c, &to_c, b, strlen(b), NULL, NULL) == 0);
		CHECK_EQ_INT(th_wait_text(&dennis, a, 10000), 0);
		if (!(i % 2))
			REQUIRE(wakks_send_text(dennis.c, &to_c, b, strlen(b), NULL, NULL) == 0);
		CHECK_EQ_INT(th_wait_text(&camilla, b, 10000), 0);
	}
	CHECK_EQ_INT(camilla.n_errors, 0);
	CHECK_EQ_INT(dennis.n_errors, 0);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	RUN(crossing_first_messages_then_a_conversation);
	th_close(&camilla);
	th_close(&dennis);
	int rc = TEST_RESULT();
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	return rc;
}
