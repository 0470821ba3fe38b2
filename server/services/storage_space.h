/* SPDX-License-Identifier: MPL-2.0 */
/* Storage space (spec/relay.md §11): how full the LMDB map (of map_size_max_mb) and the file
 * system of data_dir are. Crossing storage_warn_percent of either logs a warning once (again only
 * after it went below and crossed again); writes refused because storage is full are logged at
 * error, at most one line a minute with the number refused since the last line. /metrics shows
 * the figures (services/metrics.c). */
#ifndef WAKKS_RELAY_SERVICES_STORAGE_SPACE_H
#define WAKKS_RELAY_SERVICES_STORAGE_SPACE_H

#include <stdbool.h>

struct relay;

/* How long a client is asked to wait before retrying a write refused for a full storage: space
 * comes back only through acknowledgements, expiry or an operator, not within seconds. */
#define RELAY_RETRY_FULL_MS 30000

/* Once a second (housekeeping): samples the map, asks the file system, logs. */
void relay_storage_space_sample(struct relay *r);

/* Whether a failed write (a storage result, or 0 with disk_errno a negative libuv/errno code of a
 * file write) means "storage full": the map is at its maximum (STORE_EFULL) or the file system
 * is out of space (ENOSPC, EDQUOT, EFBIG: the file size limit, or an I/O error while the last
 * sample saw it all but full; the storage library reports a full disk under LMDB as STORE_EFULL
 * itself, so the I/O error case is left for a failure it could not tell apart).
 * A full disk is counted for the log and /metrics. */
bool relay_storage_full(struct relay *r, int store_rc, int disk_errno);

#endif
