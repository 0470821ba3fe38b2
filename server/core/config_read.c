/* SPDX-License-Identifier: MPL-2.0 */
#include "core/config_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tenant_files.h"

int relay_admin_listen_parse(const char *value, char *host, size_t host_len, int *port)
{
	if (strcmp(value, "off") == 0)
		return 1;
	const char *colon = strrchr(value, ':');
	if (!colon || colon == value || (size_t)(colon - value) >= host_len)
		return -1;
	char *end;
	long n = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || n < 0 || n > 65535)
		return -1;
	memcpy(host, value, (size_t)(colon - value));
	host[colon - value] = '\0';
	*port = (int)n;
	return 0;
}

/* Appends one line to err (as config.c's checks do). */
static int add_error(char *err, size_t err_len, const char *what)
{
	size_t used = strnlen(err, err_len);
	snprintf(err + used, err_len - used, "%s%s", used ? "\n" : "", what);
	return -1;
}

int relay_config_read(struct relay_config *cfg, const char *path, bool dev, bool serving,
		      char *err, size_t err_len)
{
	relay_config_defaults(cfg);
	cfg->dev_mode = dev;
	err[0] = '\0';
	int rc = 0;
	if (path && relay_config_load(cfg, path, err, err_len) != 0)
		rc = -1;
	if (cfg->tenants_dir[0] && relay_tenant_files_load(cfg, cfg->tenants_dir, err, err_len) != 0)
		rc = -1;
	if (dev)
		relay_config_add_dev_defaults(cfg);
	/* The relations between keys are checked also when a line was refused, so that one run
	 * names every mistake; relay_config_check writes its own buffer (it starts afresh). */
	char *checks = malloc(err_len);
	if (!checks)
		return add_error(err, err_len, "out of memory");
	if (relay_config_check(cfg, checks, err_len) != 0) {
		rc = -1;
		char *save = NULL;
		for (char *l = strtok_r(checks, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			add_error(err, err_len, l);
	}
	free(checks);
	char host[RELAY_CONFIG_STR_MAX];
	int port;
	if (relay_admin_listen_parse(cfg->admin_listen, host, sizeof host, &port) < 0)
		rc = add_error(err, err_len,
			       "relay: admin_listen must be HOST:PORT (e.g. 127.0.0.1:9464) or off");
	if (serving && relay_config_check_tls(cfg, err, err_len) != 0)
		rc = -1;
	return rc;
}
