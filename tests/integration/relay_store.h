/* SPDX-License-Identifier: MPL-2.0 */
/* A test's direct look into a relay's storage: DATA_DIR/db for LMDB, or the relay's PostgreSQL
 * database when the test runs against that engine (WAKKS_TEST_ENGINE=postgresql, relay_proc.h).
 * The tests inspect with the storage library's own functions either way. */
#ifndef WAKKS_TEST_RELAY_STORE_H
#define WAKKS_TEST_RELAY_STORE_H

#include <stdio.h>

#include "relay_proc.h"
#include "wakks_storage.h"

/* The store_config that opens p's storage; path (cap bytes) holds the LMDB path. */
static inline struct store_config relay_store_config(const struct relay_proc *p, char *path,
						     size_t cap)
{
	snprintf(path, cap, "%s/db", p->data_dir);
	return (struct store_config){ .path = path,
				      .pg_conninfo = p->pg_conninfo[0] ? p->pg_conninfo : NULL };
}

#endif
