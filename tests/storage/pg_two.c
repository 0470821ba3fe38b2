/* SPDX-License-Identifier: MPL-2.0 */
#include "pg_two.h"

#include <stdio.h>
#include <string.h>

#include "pg_server.h"

int pg_two_open(struct pg_two *t, unsigned max_batch_1)
{
	struct store_config cfg;
	memset(t, 0, sizeof *t);
	if (pg_test_create_db(t->conninfo, sizeof t->conninfo, t->db, sizeof t->db) != 0)
		return -1;
	if (uv_loop_init(&t->loop) != 0)
		return -1;
	memset(&cfg, 0, sizeof cfg);
	cfg.pg_conninfo = t->conninfo;
	cfg.max_batch = 256;
	for (int i = 0; i < 2; i++) {
		if (i == 1)
			cfg.max_batch = max_batch_1;
		int rc = store_open(&t->s[i], &t->loop, &cfg);
		if (rc) {
			fprintf(stderr, "store_open: %s\n", store_strerror(rc));
			return -1;
		}
	}
	return 0;
}

void pg_two_close(struct pg_two *t)
{
	for (int i = 0; i < 2; i++) {
		if (t->s[i])
			store_close(t->s[i]);
		t->s[i] = NULL;
	}
	uv_run(&t->loop, UV_RUN_NOWAIT);
	uv_loop_close(&t->loop);
	pg_test_drop_db(t->db);
}
