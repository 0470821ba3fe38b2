/* SPDX-License-Identifier: MPL-2.0 */
/* Deferred acknowledgement (wakks_config.manual_ack, wakks_ack): a message is persisted and
 * reported, but its envelope stays on the relay until the application acknowledges it; until
 * then every new connection reports it again (texts and files, the file not fetched twice), and
 * after the ack it is never reported again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client_harness.h"
#include "relay_proc.h"
#include "test.h"

static struct relay_proc relay;
static char base[400], ca[400];
static struct th_dev anna, camilla;

static int count_id(const struct th_dev *d, const uint8_t id[16])
{
	int n = 0;
	for (int i = 0; i < d->n_msgs; i++)
		n += memcmp(d->msgs[i].id, id, 16) == 0;
	return n;
}

static int last_index(const struct th_dev *d, const uint8_t id[16])
{
	for (int i = d->n_msgs - 1; i >= 0; i--)
		if (memcmp(d->msgs[i].id, id, 16) == 0)
			return i;
	return -1;
}

struct id_wait {
	struct th_dev *d;
	const uint8_t *id;
	int n;
};

static bool has_n(void *arg)
{
	struct id_wait *w = arg;
	return count_id(w->d, w->id) >= w->n;
}

static void reported_again_until_acknowledged(void)
{
	REQUIRE(th_open(&anna, "anna", base, relay.port, ca) == 0);
	REQUIRE(th_open(&camilla, "camilla", base, relay.port, ca) == 0);
	REQUIRE(th_register(&anna, "dev-mitid", "anna") == 0);
	REQUIRE(th_register(&camilla, "dev-adfs", "camilla") == 0);
	camilla.manual_ack = true;
	REQUIRE(th_reopen(&camilla) == 0);
	REQUIRE(th_wait_ready(&camilla, 10000) == 0);
	CHECK_EQ_INT(wakks_ack(camilla.c, 0), WAKKS_E_INVAL);

	uint8_t text_id[16], file_id[16];
	wakks_target to = { NULL, "varde", "jobcenter" };
	REQUIRE(wakks_send_text(anna.c, &to, "kvitter senere", 14, text_id, NULL) == 0);
	uint8_t data[5000];
	randombytes_buf(data, sizeof data);
	wakks_file f = { .data = data, .len = sizeof data, .file_name = "bilag.bin" };
	REQUIRE(wakks_send_file(anna.c, &to, &f, NULL, 0, file_id, NULL) == 0);
	struct id_wait wt = { &camilla, text_id, 1 }, wf = { &camilla, file_id, 1 };
	REQUIRE(th_pump_until(has_n, &wt, 10000) == 0);
	REQUIRE(th_pump_until(has_n, &wf, 10000) == 0);
	int it = last_index(&camilla, text_id), ifl = last_index(&camilla, file_id);
	CHECK(camilla.msgs[it].delivery != 0);
	CHECK(camilla.msgs[ifl].delivery != 0);
	CHECK_EQ_INT(camilla.msgs[ifl].file_state, WAKKS_ATT_SAVED);

	/* Not acknowledged: a new connection reports both again, from the store. */
	REQUIRE(th_reopen(&camilla) == 0);
	wt.n = 2;
	wf.n = 2;
	CHECK_EQ_INT(th_pump_until(has_n, &wt, 10000), 0);
	CHECK_EQ_INT(th_pump_until(has_n, &wf, 10000), 0);
	it = last_index(&camilla, text_id);
	ifl = last_index(&camilla, file_id);
	CHECK(strcmp(camilla.msgs[it].text, "kvitter senere") == 0);
	CHECK_EQ_INT(camilla.msgs[ifl].file_state, WAKKS_ATT_SAVED); /* the saved file, not fetched again */
	CHECK(strcmp(camilla.msgs[ifl].file_name, "bilag.bin") == 0);
	CHECK_EQ_INT(wakks_downloads_pending(camilla.c), 0);

	/* Acknowledged: gone from the relay, never reported again. */
	CHECK_EQ_INT(wakks_ack(camilla.c, camilla.msgs[it].delivery), 0);
	CHECK_EQ_INT(wakks_ack(camilla.c, camilla.msgs[ifl].delivery), 0);
	th_pump(500);
	REQUIRE(th_reopen(&camilla) == 0);
	REQUIRE(th_wait_ready(&camilla, 10000) == 0);
	th_pump(1500);
	CHECK_EQ_INT(count_id(&camilla, text_id), 2);
	CHECK_EQ_INT(count_id(&camilla, file_id), 2);
	CHECK_EQ_INT(camilla.n_errors, 0);

	/* Without manual_ack the library acknowledges by itself, and delivery stays 0. */
	camilla.manual_ack = false;
	REQUIRE(th_reopen(&camilla) == 0);
	REQUIRE(th_wait_ready(&camilla, 10000) == 0);
	uint8_t id3[16];
	REQUIRE(wakks_send_text(anna.c, &to, "selvkvitteret", 13, id3, NULL) == 0);
	struct id_wait w3 = { &camilla, id3, 1 };
	REQUIRE(th_pump_until(has_n, &w3, 10000) == 0);
	CHECK(camilla.msgs[last_index(&camilla, id3)].delivery == 0);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0) {
		fprintf(stderr, "relay did not start\n");
		return 1;
	}
	snprintf(base, sizeof base, "%s/clients", relay.dir);
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	RUN(reported_again_until_acknowledged);
	th_close(&anna);
	th_close(&camilla);
	int rc = TEST_RESULT();
	relay_proc_stop(&relay);
	relay_proc_cleanup(&relay);
	return rc;
}
