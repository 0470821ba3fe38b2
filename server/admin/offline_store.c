/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/offline_store.h"

#include <stdio.h>

#include "core/storage_config.h"
#include "wakks_storage.h"

void relay_command_store_close(struct store *store, uv_loop_t *loop)
{
	store_close(store);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
}

/* The shared database: a command works on a database relays have used; one that store_open had
 * to give a schema is refused (a wrong conninfo would otherwise look like an empty service). */
static int shared_store(const struct relay_config *cfg, struct store **out, uv_loop_t *loop)
{
	char where[RELAY_CONFIG_CONNINFO_MAX];
	relay_conninfo_describe(cfg->conninfo, where, sizeof where);
	uv_loop_init(loop);
	struct store_config sc = { .pg_conninfo = cfg->conninfo };
	int rc = store_open(out, loop, &sc);
	if (rc != 0) {
		fprintf(stderr, "wakks-relay: cannot open the database %s: %s\n", where,
			store_strerror(rc));
		uv_loop_close(loop);
		return rc;
	}
	if (store_created(*out)) {
		fprintf(stderr, "wakks-relay: no relay has used the database %s yet (is conninfo right?)\n",
			where);
		relay_command_store_close(*out, loop);
		return STORE_ENOTFOUND;
	}
	return 0;
}

int relay_command_store(const struct relay_config *cfg, struct store **out, uv_loop_t *loop)
{
	if (cfg->engine == RELAY_ENGINE_POSTGRESQL)
		return shared_store(cfg, out, loop);
	char path[RELAY_CONFIG_PATH_MAX + 8], why[600];
	snprintf(path, sizeof path, "%s/db", cfg->data_dir);
	/* A command works on the database the relay created; it never creates one (a wrong data_dir
	 * would otherwise get an empty database that a later start takes for its own). */
	int rc = store_check_file(path, why, sizeof why);
	if (rc == STORE_ENOTFOUND) {
		fprintf(stderr, "wakks-relay: no database in %s (is data_dir right?)\n", path);
		return rc;
	}
	if (rc != 0) {
		fprintf(stderr, "wakks-relay: %s\n", why);
		return rc;
	}
	uv_loop_init(loop);
	struct store_config sc = {
		.path = path,
		.map_size_initial = (size_t)cfg->map_size_initial_mb << 20,
		.map_size_max = (size_t)cfg->map_size_max_mb << 20,
		/* A short-lived command leaves the file's page cache and length to the relay that may
		 * be running on it (spec/storage.md §2b). */
		.page_cache_off = true,
	};
	rc = store_open(out, loop, &sc);
	if (rc != 0) {
		fprintf(stderr, "wakks-relay: cannot open storage %s: %s\n", path, store_strerror(rc));
		uv_loop_close(loop);
	}
	return rc;
}
