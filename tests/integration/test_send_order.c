/* SPDX-License-Identifier: MPL-2.0 */
/* The order of the checks on `send` (spec/protocol.md §8.1), pinned where two or more of them
 * would fail at once: a remembered cmid, the addressees, the device set, authorization and
 * consent, the attached blobs, the sending device's send rate, the recipients' mailbox quotas.
 * Each case below fails at least the rate and one earlier check, and gets the earlier one. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

static struct relay_proc relay;
static struct tdev anna, bo, camilla, dennis;
static uint8_t first_cmid[16];

/* Sends a `send` from d: to (or none), the unit varde/jobcenter when unit, one envelope per
 * device of devs, and blob when not NULL. Returns the reply type (frame in d->frame). */
static int send_msg(struct tdev *d, const uint8_t cmid[16], const uint8_t *to, bool unit,
		    const uint8_t *const *devs, size_t n_devs, const uint8_t *blob)
{
	static proto_frame f;
	proto_frame_init(&f, PROTO_T_SEND, 0);
	proto_send *m = &f.body.send;
	m->cmid = cmid;
	if (to) {
		m->to[0] = to;
		m->to_count = 1;
	}
	if (unit) {
		m->tenant = (proto_str){ "varde", 5 };
		m->unit = (proto_str){ "jobcenter", 9 };
	}
	for (size_t i = 0; i < n_devs; i++) {
		m->env[i].device = devs[i];
		m->env[i].ciphertext = (proto_bytes){ (const uint8_t *)"ct", 2 };
	}
	m->env_count = (uint32_t)n_devs;
	if (blob) {
		m->blobs[0] = blob;
		m->blob_count = 1;
	}
	return tdev_request(d, &f, 5000);
}

static int error_code(const struct tdev *d)
{
	return d->frame.type == PROTO_T_ERROR ? (int)d->frame.body.error.code : 0;
}

/* camilla → dennis twice: her send budget (2 a minute) is spent and dennis's mailbox (2
 * envelopes, unacknowledged) is full. */
static void setup_rate_spent_and_mailbox_full(void)
{
	const uint8_t *devs[] = { dennis.device_id };
	uint8_t cmid[16];
	randombytes_buf(first_cmid, 16);
	CHECK_EQ_INT(send_msg(&camilla, first_cmid, dennis.account_id, false, devs, 1, NULL),
		     PROTO_T_STORED);
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, dennis.account_id, false, devs, 1, NULL), PROTO_T_STORED);
	/* The mailbox is full: a sender with budget left (bo, to the unit) gets the quota. */
	const uint8_t *unit_devs[] = { camilla.device_id, dennis.device_id };
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(send_msg(&bo, cmid, NULL, true, unit_devs, 2, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&bo), -PROTO_E_QUOTA_EXCEEDED);
	CHECK_EQ_INT(bo.frame.body.error.details.limit, 2);
}

static void rate_before_quota(void)
{
	const uint8_t *devs[] = { dennis.device_id };
	uint8_t cmid[16];
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, dennis.account_id, false, devs, 1, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), -PROTO_E_RATE_LIMITED);
}

static void remembered_cmid_before_everything(void)
{
	/* A resend is answered from the idempotency record, rate and quota notwithstanding. */
	const uint8_t *devs[] = { dennis.device_id };
	CHECK_EQ_INT(send_msg(&camilla, first_cmid, dennis.account_id, false, devs, 1, NULL),
		     PROTO_T_STORED);
}

static void blobs_before_rate(void)
{
	const uint8_t *devs[] = { dennis.device_id };
	uint8_t cmid[16], blob[16];
	randombytes_buf(cmid, 16);
	randombytes_buf(blob, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, dennis.account_id, false, devs, 1, blob), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), -PROTO_E_NOT_FOUND);
}

static void consent_before_rate_and_quota(void)
{
	/* To anna (no consent) through the unit: the device set is right (anna and dennis, whose
	 * mailbox is full), the rate is spent, and consent is what the answer names. */
	const uint8_t *devs[] = { anna.device_id, dennis.device_id };
	uint8_t cmid[16];
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, anna.account_id, true, devs, 2, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), -PROTO_E_CONSENT_REQUIRED);
}

static void authorization_before_rate(void)
{
	/* To a citizen without naming a unit: forbidden, not rate_limited. */
	const uint8_t *devs[] = { anna.device_id };
	uint8_t cmid[16];
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, anna.account_id, false, devs, 1, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), -PROTO_E_FORBIDDEN);
}

static void device_set_before_consent(void)
{
	/* The unit's dennis is missing from the envelopes, and anna has no consent: the device set
	 * is judged first, naming the missing device. */
	const uint8_t *devs[] = { anna.device_id };
	uint8_t cmid[16];
	randombytes_buf(cmid, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, anna.account_id, true, devs, 1, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), -PROTO_E_DEVICE_MISMATCH);
	CHECK_EQ_INT(camilla.frame.body.error.details.missing_count, 1);
	if (camilla.frame.body.error.details.missing_count == 1)
		CHECK_MEM(camilla.frame.body.error.details.missing[0], dennis.device_id, 16);
}

static void addressees_before_device_set(void)
{
	/* An account that does not exist, with an empty-handed envelope list for it. */
	const uint8_t *devs[] = { anna.device_id };
	uint8_t cmid[16], nobody[16];
	randombytes_buf(cmid, 16);
	randombytes_buf(nobody, 16);
	CHECK_EQ_INT(send_msg(&camilla, cmid, nobody, false, devs, 1, NULL), PROTO_T_ERROR);
	CHECK_EQ_INT(error_code(&camilla), -PROTO_E_NOT_FOUND);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
}

int main(void)
{
	const char *cfg = "[limits]\nsends_per_minute = 2\nmailbox_max_envelopes = 2\n";
	if (sodium_init() < 0 || relay_proc_start(&relay, cfg, true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	tdev_init(&camilla, relay.port);
	tdev_init(&dennis, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 5) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 5) != 0 ||
	    tdev_register(&camilla, "dev-adfs", "camilla", 5) != 0 ||
	    tdev_register(&dennis, "dev-adfs", "dennis", 5) != 0)
		return 1;
	RUN(setup_rate_spent_and_mailbox_full);
	RUN(rate_before_quota);
	RUN(remembered_cmid_before_everything);
	RUN(blobs_before_rate);
	RUN(consent_before_rate_and_quota);
	RUN(authorization_before_rate);
	RUN(device_set_before_consent);
	RUN(addressees_before_device_set);
	tdev_free(&anna);
	tdev_free(&bo);
	tdev_free(&camilla);
	tdev_free(&dennis);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
