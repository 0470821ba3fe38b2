/* SPDX-License-Identifier: MPL-2.0 */
#include "relay_commands.h"

#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "wakks_storage.h"

static int with_store(const struct relay_config *cfg, struct store **out, uv_loop_t *loop)
{
	char path[RELAY_CONFIG_PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/db", cfg->data_dir);
	struct store_config sc = {
		.path = path,
		.map_size_initial = (size_t)cfg->map_size_initial_mb << 20,
		.map_size_max = (size_t)cfg->map_size_max_mb << 20,
	};
	int rc = store_open(out, loop, &sc);
	if (rc != 0)
		fprintf(stderr, "wakks-relay: cannot open storage %s: %s\n", path, store_strerror(rc));
	return rc;
}

static int backup(const struct relay_config *cfg, const char *dir)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *store;
	if (with_store(cfg, &store, &loop) != 0)
		return 1;
	int rc = store_backup(store, dir);
	store_close(store);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (rc != 0) {
		fprintf(stderr, "wakks-relay: backup to %s failed: %s\n", dir, store_strerror(rc));
		return 1;
	}
	printf("backup written to %s\n", dir);
	return 0;
}

int relay_run_command(const struct relay_config *cfg, const char *command, const char *arg)
{
	if (strcmp(command, "check-config") == 0) {
		printf("configuration ok: %d tenants, %d identity providers\n", cfg->tenant_count,
		       cfg->idp_count);
		return 0;
	}
	if (strcmp(command, "backup") == 0) {
		if (!arg) {
			fprintf(stderr, "wakks-relay: backup needs a target directory\n");
			return 2;
		}
		return backup(cfg, arg);
	}
	fprintf(stderr, "wakks-relay: unknown command '%s'\n", command);
	return 2;
}
