/* SPDX-License-Identifier: MPL-2.0 */
/* The PostgreSQL engine against a real server this test starts (tests/support/pg_server): opening
 * an empty database creates the schema, an account round trip, the engine's identity. */
#include <stdlib.h>

#include "test.h"
#include "storage_test.h"

static void test_open_empty_and_account_round_trip(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK(strcmp(store_engine(e.s), "postgresql") == 0);
	CHECK(store_shared(e.s));
	CHECK(store_created(e.s));

	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', 1);
	a.kind = STORE_ACCOUNT_CASEWORKER;
	strcpy(a.tenant, "varde");
	a.n_units = 2;
	strcpy(a.units[0], "jobcenter");
	strcpy(a.units[1], "borgerservice");
	a.created_ms = 1234;
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_put_account(req, &a), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);

	struct store_account got;
	CHECK_EQ_INT(store_get_account(e.s, a.id, &got), 0);
	CHECK_MEM(got.id, a.id, STORE_ID_BYTES);
	CHECK_EQ_INT(got.kind, STORE_ACCOUNT_CASEWORKER);
	CHECK(strcmp(got.tenant, "varde") == 0);
	CHECK_EQ_INT(got.n_units, 2);
	CHECK(strcmp(got.units[0], "jobcenter") == 0);
	CHECK(strcmp(got.units[1], "borgerservice") == 0);
	CHECK_EQ_INT(got.created_ms, 1234);
	uint8_t missing[STORE_ID_BYTES];
	t_id(missing, 'A', 99);
	CHECK_EQ_INT(store_get_account(e.s, missing, &got), STORE_ENOTFOUND);

	/* reopening keeps it and does not create the schema again */
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK(!store_created(e.s));
	CHECK_EQ_INT(store_get_account(e.s, a.id, &got), 0);
	CHECK_EQ_INT(got.n_units, 2);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.map_size, 0);
	t_teardown(&e);
}

int main(void)
{
	if (!t_pg())
		setenv("WAKKS_TEST_ENGINE", "postgresql", 1);
	RUN(test_open_empty_and_account_round_trip);
	return TEST_RESULT();
}
