/* SPDX-License-Identifier: MPL-2.0 */
/* wakks-relay tenant add|list|show|check: the tenants.d files (core/tenant_files.h) for operators
 * onboarding municipalities and regions (docs/operations.md, "Tenants").
 *   tenant list                  one line per tenant: id, kind, scope, CVR, name, file
 *   tenant show ID               the tenant's settings, units and groups
 *   tenant check [FILE...]       validates the configuration with its tenant files, and each
 *                                FILE as a tenant file added to it (before it is installed)
 *   tenant add ID --name N --cvr C --idps A[,B] [--kind municipality|region] [--scope light|full]
 *              [--unit ID:NAME:GROUP[,GROUP...]]... [--consent-version V --consent-file F]
 *              [--display-name N] [--logo FILE] [--colour #rrggbb]
 *                                writes tenants_dir/ID.conf: validated with the whole
 *                                configuration first, then written atomically (a temporary
 *                                file, fsync, rename); an existing tenant is never overwritten
 * Every command takes [--config FILE] [--dev] anywhere. A running relay takes the change at
 * its next reload (SIGHUP). */
#ifndef WAKKS_RELAY_ADMIN_TENANT_COMMANDS_H
#define WAKKS_RELAY_ADMIN_TENANT_COMMANDS_H

/* argv holds what follows "tenant". Returns the exit status: 0, 1 for a failure to write, 2 for
 * a bad command line or an invalid configuration or tenant. */
int relay_tenant_main(int argc, char **argv);

#endif
