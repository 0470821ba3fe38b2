/* SPDX-License-Identifier: MPL-2.0 */
/* A once-a-second timer: closes connections that did not authenticate in time, expires
 * envelopes past their TTL and samples how full storage is (services/storage_space.h). */
#ifndef WAKKS_RELAY_SERVICES_HOUSEKEEPING_H
#define WAKKS_RELAY_SERVICES_HOUSEKEEPING_H

struct relay;

void relay_housekeeping_start(struct relay *r);
void relay_housekeeping_stop(struct relay *r);

#endif
