/* SPDX-License-Identifier: MPL-2.0 */
/* check-data: verifies the checksum of every stored record (spec/storage.md §2.1) and lists the
 * damaged ones. */
#ifndef WAKKS_RELAY_ADMIN_CHECK_DATA_H
#define WAKKS_RELAY_ADMIN_CHECK_DATA_H

#include "core/config.h"

/* Returns the exit status: 0 all intact, 1 damage found or the check failed. */
int relay_check_data(const struct relay_config *cfg);

#endif
