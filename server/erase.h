/* SPDX-License-Identifier: MPL-2.0 */
/* GDPR erasure of a citizen (spec/identity.md §9): the operator gives the CPR number on stdin
 * (never on the command line, where process lists and shell history would keep it); the relay
 * derives the account id, revokes every device, erases the account with its devices, mailboxes,
 * prekeys and consent records, and appends a pseudonymous `account-erased` audit entry. */
#ifndef WAKKS_RELAY_ERASE_H
#define WAKKS_RELAY_ERASE_H

#include "config.h"

/* Returns the process exit status: 0 erased (or nothing to erase), 1 failure, 2 bad input. */
int relay_erase_citizen(const struct relay_config *cfg);

#endif
