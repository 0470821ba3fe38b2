/* SPDX-License-Identifier: MPL-2.0 */
/* Whether an authenticated connection's device is still live. A device is revoked (or erased) by
 * the relay itself or by an operator command running as another process on the same storage;
 * either way its open connection must close at once (4004, spec/relay.md §5) and answer nothing
 * more. The relay notices through the storage: every request of an authenticated connection
 * re-reads the device record, and when the audit log's head moves (every revocation and erasure
 * appends an entry, whoever writes it) the housekeeping tick re-checks every connection. */
#ifndef WAKKS_RELAY_SERVICES_LIVENESS_H
#define WAKKS_RELAY_SERVICES_LIVENESS_H

#include <stdbool.h>
#include <stdint.h>

struct relay;
struct relay_conn;

/* Close code of a connection whose device was revoked while connected. */
#define RELAY_CLOSE_REVOKED 4004

/* True while the authenticated connection's device exists and is not revoked; otherwise closes
 * the connection with RELAY_CLOSE_REVOKED and returns false. A storage read error counts as live
 * (the next check decides): a busy disk must not log everyone out. */
bool relay_conn_still_live(struct relay_conn *c);

/* Housekeeping: when the audit head moved since the last call, checks every authenticated
 * connection with relay_conn_still_live. One storage read per tick otherwise. */
void relay_liveness_tick(struct relay *r);

#endif
