/* SPDX-License-Identifier: MPL-2.0 */
/* Two stores on one fresh PostgreSQL database and one loop, each with its own writer thread and
 * connection, as two relays have: the engine's tests of what several relays do at once. */
#ifndef WAKKS_TEST_PG_TWO_H
#define WAKKS_TEST_PG_TWO_H

#include <uv.h>

#include "wakks_storage.h"

struct pg_two {
	uv_loop_t loop;
	struct store *s[2];
	char conninfo[512];
	char db[64];
};

/* Opens both on a new database; the second commits at most max_batch_1 requests a batch (the
 * first 256). Returns 0 or -1 (said on stderr). */
int pg_two_open(struct pg_two *t, unsigned max_batch_1);

/* Closes both stores and the loop, and drops the database. */
void pg_two_close(struct pg_two *t);

#endif
