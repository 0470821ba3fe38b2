/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/offline_store.h"

#include <stdio.h>

#include "wakks_storage.h"

void relay_command_store_close(struct store *store, uv_loop_t *loop)
{
	store_close(store);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
}

int relay_command_store(const struct relay_config *cfg, struct store **out, uv_loop_t *loop)
{
	uv_loop_init(loop);
	char path[RELAY_CONFIG_PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/db", cfg->data_dir);
	struct store_config sc = {
		.path = path,
		.map_size_initial = (size_t)cfg->map_size_initial_mb << 20,
		.map_size_max = (size_t)cfg->map_size_max_mb << 20,
	};
	int rc = store_open(out, loop, &sc);
	if (rc != 0) {
		fprintf(stderr, "wakks-relay: cannot open storage %s: %s\n", path, store_strerror(rc));
		uv_loop_close(loop);
	}
	return rc;
}
