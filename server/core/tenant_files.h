/* SPDX-License-Identifier: MPL-2.0 */
/* The tenants.d directory (docs/configuration.md, "Tenant files"): one tenant per file, so that a
 * hosting supplier can add, review and remove a municipality as one file. Files ending in .conf
 * are read in name order (byte order, so "010-" sorts before "100-"); others are ignored, so an
 * editor's backup or a disabled "x.conf.off" is never read. */
#ifndef WAKKS_RELAY_CORE_TENANT_FILES_H
#define WAKKS_RELAY_CORE_TENANT_FILES_H

#include <stddef.h>

struct relay_config;

/* The most tenant files read from one directory (RELAY_MAX_TENANTS bounds what they may hold). */
#define RELAY_TENANT_FILES_MAX 1024

/* Reads every *.conf in dir in name order into cfg (relay_config_load_tenant_file). Every error
 * of every file is appended to err. Returns 0 or -1. */
int relay_tenant_files_load(struct relay_config *cfg, const char *dir, char *err, size_t err_len);

/* The names (not paths) of dir's *.conf files in name order: *names is malloc'd, each entry too;
 * free with relay_tenant_files_free. Returns the count, or -1 (errno) when dir cannot be read. */
int relay_tenant_files_list(const char *dir, char ***names);
void relay_tenant_files_free(char **names, int n);

#endif
