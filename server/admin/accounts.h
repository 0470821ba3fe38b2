/* SPDX-License-Identifier: MPL-2.0 */
/* Operator commands on accounts (spec/identity.md §9), run while the relay runs or not.
 *   erase-citizen: GDPR erasure. The CPR number comes on stdin (never the command line, where
 *     process lists and shell history keep it); the relay derives the account id, revokes every
 *     device, erases the account with its devices, mailboxes, prekeys and consent records, and
 *     appends a pseudonymous `account-erased` audit entry.
 *   revoke-caseworker TENANT UPN: a tenant administrator's revocation of every device of a
 *     caseworker (a person who left), each with its mailbox and prekeys, audited. */
#ifndef WAKKS_RELAY_ADMIN_ACCOUNTS_H
#define WAKKS_RELAY_ADMIN_ACCOUNTS_H

#include "core/config.h"

/* Returns the process exit status: 0 erased (or nothing to erase), 1 failure, 2 bad input. */
int relay_erase_citizen(const struct relay_config *cfg);

/* Returns the process exit status: 0 revoked (or no devices), 1 failure, 2 bad arguments. */
int relay_revoke_caseworker(const struct relay_config *cfg, const char *tenant, const char *upn);

#endif
