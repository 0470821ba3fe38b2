/* SPDX-License-Identifier: MPL-2.0 */
/* A tenant's public settings for clients (spec/client.md §18): history days, the read-receipt
 * switch, and the citizen providers it trusts with their published key sets, so that a unit's
 * devices can check a citizen's identity presentation themselves. */
#ifndef WAKKS_RELAY_SERVICES_TENANT_INFO_H
#define WAKKS_RELAY_SERVICES_TENANT_INFO_H

struct relay;

/* The JSON document for GET /tenant/TENANT, malloc'd; NULL for an unknown tenant or no memory. */
char *relay_tenant_info_json(struct relay *r, const char *tenant);

#endif
