/* SPDX-License-Identifier: MPL-2.0 */
/* The one way the relay reads its configuration, at start, for check-config and at a reload
 * (SIGHUP): the embedded defaults, the file, the tenants.d directory it names, the development
 * defaults with --dev, then every check. A reload parses into a fresh struct with this same
 * function, so every key the file may hold is re-read the same way a start reads it. */
#ifndef WAKKS_RELAY_CORE_CONFIG_READ_H
#define WAKKS_RELAY_CORE_CONFIG_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/* Room for every error a configuration can report (RELAY_CONFIG_ERRORS_MAX lines). */
#define RELAY_CONFIG_ERR_BYTES (RELAY_CONFIG_ERRORS_MAX * 320)

/* Fills cfg from `path` (NULL: defaults only) and the tenants_dir it names. `serving`: the relay
 * will serve (also relay_config_check_tls). Returns 0, or -1 with every error in err, one line
 * each. cfg is written either way (a caller keeps its old configuration on -1). */
int relay_config_read(struct relay_config *cfg, const char *path, bool dev, bool serving,
		      char *err, size_t err_len);

/* Splits admin_listen ("HOST:PORT", "[::1]:PORT" not supported: IPv4 or a name) into host and
 * port. Returns 0, 1 for "off", -1 when malformed. */
int relay_admin_listen_parse(const char *value, char *host, size_t host_len, int *port);

#endif
