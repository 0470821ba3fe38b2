/* SPDX-License-Identifier: MPL-2.0 */
/* Operator commands that run instead of the relay: check-config, backup [--verify], restore,
 * audit verify|export, erase-citizen, revoke-caseworker, consent-report, check-data. */
#ifndef WAKKS_RELAY_ADMIN_COMMANDS_H
#define WAKKS_RELAY_ADMIN_COMMANDS_H

#include "core/config.h"

/* Returns the process exit status (2 for an unknown command or missing argument). */
int relay_run_command(const struct relay_config *cfg, const char *command, const char *arg,
		      const char *arg2);

#endif
