/* SPDX-License-Identifier: MPL-2.0 */
/* The events relays on one shared database send each other (services/cluster.c,
 * spec/storage-postgresql.md "Relay events"): every kind round-trips, and what another relay
 * could get wrong (a truncated or overlong event, another version, an unknown kind, a flag or
 * string out of range) is refused. */
#include <string.h>

#include "services/cluster_events.h"
#include "test.h"
#include "wakks_protocol.h"

static struct relay_event consent_event(void)
{
	struct relay_event ev = { .kind = RELAY_EV_CONSENT_CHANGED, .type = 2, .time_ms = 1700000000123,
				  .has_except = true };
	memset(ev.id, 0xa1, 16);
	memset(ev.except, 0xb2, 16);
	strcpy(ev.tenant, "varde");
	strcpy(ev.unit, "jobcenter");
	return ev;
}

static void every_kind_round_trips(void)
{
	struct relay_event evs[7];
	memset(evs, 0, sizeof evs);
	evs[0].kind = RELAY_EV_DEVICES_CHANGED;
	evs[1] = consent_event();
	evs[2].kind = RELAY_EV_UNIT_DEVICES_CHANGED;
	evs[2].has_except = true;
	evs[3].kind = RELAY_EV_DEVICE_GONE;
	evs[4].kind = RELAY_EV_DEVICE_BOUND;
	evs[4].time_ms = 42;
	evs[5].kind = RELAY_EV_RECEIPT;
	evs[5].type = PROTO_T_EXPIRED;
	evs[5].time_ms = 7;
	memset(evs[5].cmid, 3, 16);
	memset(evs[5].account, 4, 16);
	memset(evs[5].device, 5, 16);
	evs[6].kind = RELAY_EV_PREKEYS_CHECK;
	for (int i = 0; i < 7; i++) {
		memset(evs[i].id, 0x10 + i, 16);
		uint8_t buf[RELAY_EVENT_MAX];
		int n = relay_event_encode(&evs[i], buf, sizeof buf);
		REQUIRE(n > 2);
		CHECK_EQ_INT(buf[0], RELAY_EVENT_VERSION);
		struct relay_event back;
		CHECK_EQ_INT(relay_event_decode(buf, (size_t)n, &back), 0);
		CHECK_EQ_INT(back.kind, evs[i].kind);
		CHECK_MEM(back.id, evs[i].id, 16);
		CHECK_EQ_INT(back.has_except, evs[i].has_except);
		CHECK(back.time_ms == evs[i].time_ms);
		CHECK_EQ_INT((int)back.type, (int)evs[i].type);
		CHECK_MEM(back.cmid, evs[i].cmid, 16);
		CHECK_MEM(back.device, evs[i].device, 16);
		CHECK(strcmp(back.tenant, evs[i].tenant) == 0 && strcmp(back.unit, evs[i].unit) == 0);
		/* Every strict prefix is refused, and so is one byte more. */
		for (int cut = 0; cut < n; cut++)
			CHECK_EQ_INT(relay_event_decode(buf, (size_t)cut, &back), -1);
		buf[n] = 0;
		CHECK_EQ_INT(relay_event_decode(buf, (size_t)n + 1, &back), -1);
	}
}

static void malformed_events_are_refused(void)
{
	struct relay_event ev = consent_event(), back;
	uint8_t buf[RELAY_EVENT_MAX];
	int n = relay_event_encode(&ev, buf, sizeof buf);
	REQUIRE(n > 0);
	uint8_t bad[RELAY_EVENT_MAX];
	/* Another version, an unknown kind. */
	memcpy(bad, buf, (size_t)n);
	bad[0] = 2;
	CHECK_EQ_INT(relay_event_decode(bad, (size_t)n, &back), -1);
	memcpy(bad, buf, (size_t)n);
	bad[1] = 99;
	CHECK_EQ_INT(relay_event_decode(bad, (size_t)n, &back), -1);
	/* The except flag is 0 or 1. */
	memcpy(bad, buf, (size_t)n);
	bad[2 + 16] = 2;
	CHECK_EQ_INT(relay_event_decode(bad, (size_t)n, &back), -1);
	/* A tenant with a NUL or a space in it, or none at all. */
	size_t tenant_at = 2 + 16 + 1 + 16 + 4 + 8;
	CHECK_EQ_INT(buf[tenant_at], 5);
	memcpy(bad, buf, (size_t)n);
	bad[tenant_at + 2] = 0;
	CHECK_EQ_INT(relay_event_decode(bad, (size_t)n, &back), -1);
	bad[tenant_at + 2] = ' ';
	CHECK_EQ_INT(relay_event_decode(bad, (size_t)n, &back), -1);
	strcpy(ev.tenant, "");
	n = relay_event_encode(&ev, buf, sizeof buf);
	REQUIRE(n > 0);
	CHECK_EQ_INT(relay_event_decode(buf, (size_t)n, &back), -1);
	/* A string longer than an id may be is not encoded either. */
	memset(ev.unit, 'u', 64);
	ev.unit[64] = '\0';
	strcpy(ev.tenant, "varde");
	CHECK(relay_event_encode(&ev, buf, sizeof buf) > 0);
	CHECK_EQ_INT(relay_event_encode(&ev, buf, 20), -1);
	/* A receipt's type is 1 or 2. */
	struct relay_event rc = { .kind = RELAY_EV_RECEIPT, .type = PROTO_T_RECEIPT };
	n = relay_event_encode(&rc, buf, sizeof buf);
	REQUIRE(n > 0);
	buf[2] = 3;
	CHECK_EQ_INT(relay_event_decode(buf, (size_t)n, &back), -1);
}

int main(void)
{
	RUN(every_kind_round_trips);
	RUN(malformed_events_are_refused);
	return TEST_RESULT();
}
