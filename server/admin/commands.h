/* SPDX-License-Identifier: MPL-2.0 */
/* Operator commands that run instead of the relay: check-config, backup, audit verify|export,
 * erase-citizen, revoke-caseworker, consent-report. */
#ifndef WAKKS_RELAY_ADMIN_COMMANDS_H
#define WAKKS_RELAY_ADMIN_COMMANDS_H

#include <uv.h>

#include "core/config.h"

struct store;

/* Opens the relay's storage for an operator command on a private loop (initialised here).
 * Returns 0 or an error (printed). */
int relay_command_store(const struct relay_config *cfg, struct store **out, uv_loop_t *loop);
/* Closes what relay_command_store opened. */
void relay_command_store_close(struct store *store, uv_loop_t *loop);

/* Returns the process exit status (2 for an unknown command or missing argument). */
int relay_run_command(const struct relay_config *cfg, const char *command, const char *arg,
		      const char *arg2);

#endif
