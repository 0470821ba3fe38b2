/* SPDX-License-Identifier: MPL-2.0 */
#include "core/tenant_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_conf(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

void relay_tenant_files_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int relay_tenant_files_list(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char **v = NULL;
	int n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_conf(e->d_name))
			continue;
		if (n == RELAY_TENANT_FILES_MAX) {
			errno = E2BIG;
			goto fail;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **grown = realloc(v, (size_t)cap * sizeof *v);
			if (!grown)
				goto fail;
			v = grown;
		}
		if (!(v[n] = strdup(e->d_name)))
			goto fail;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof *v, by_name);
	*names = v;
	return n;
fail:;
	int saved = errno;
	closedir(d);
	relay_tenant_files_free(v, n);
	errno = saved;
	return -1;
}

int relay_tenant_files_load(struct relay_config *cfg, const char *dir, char *err, size_t err_len)
{
	char **names = NULL;
	int n = relay_tenant_files_list(dir, &names);
	if (n < 0) {
		size_t used = strnlen(err, err_len);
		snprintf(err + used, err_len - used, "%s%s: cannot read the tenant directory: %s",
			 used ? "\n" : "", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[RELAY_CONFIG_PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
			size_t used = strnlen(err, err_len);
			snprintf(err + used, err_len - used, "%s%s/%s: path too long", used ? "\n" : "",
				 dir, names[i]);
			rc = -1;
			continue;
		}
		if (relay_config_load_tenant_file(cfg, path, err, err_len) != 0)
			rc = -1;
	}
	relay_tenant_files_free(names, n);
	return rc;
}
