/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's storage opened by an operator command, on a private loop, while the relay runs or
 * not (LMDB allows both: one writer at a time, the relay's writer thread or the command's; a
 * shared PostgreSQL database any number of writers). */
#ifndef WAKKS_RELAY_ADMIN_OFFLINE_STORE_H
#define WAKKS_RELAY_ADMIN_OFFLINE_STORE_H

#include <uv.h>

#include "core/config.h"

struct store;

/* Opens the relay's storage for an operator command on a private loop (initialised here).
 * Returns 0 or an error (printed). */
int relay_command_store(const struct relay_config *cfg, struct store **out, uv_loop_t *loop);
/* Closes what relay_command_store opened. */
void relay_command_store_close(struct store *store, uv_loop_t *loop);

#endif
