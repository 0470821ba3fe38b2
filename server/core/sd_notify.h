/* SPDX-License-Identifier: MPL-2.0 */
/* The service manager's notification protocol (systemd's sd_notify), spoken directly: one
 * datagram of newline-separated KEY=VALUE lines to the AF_UNIX socket named by NOTIFY_SOCKET
 * ('@' at its start: the abstract namespace). Without NOTIFY_SOCKET every call does nothing, so
 * the relay behaves the same under any supervisor. Not linking libsystemd keeps the relay's
 * dependencies to what it uses, and the protocol is a stable, documented interface. */
#ifndef WAKKS_RELAY_CORE_SD_NOTIFY_H
#define WAKKS_RELAY_CORE_SD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Sends `state` (e.g. "READY=1\nSTATUS=listening") to NOTIFY_SOCKET. Returns 1 when sent, 0 when
 * no service manager listens (NOTIFY_SOCKET unset or empty), -1 on an error (errno set; an
 * unusable socket path: EINVAL). */
int relay_sd_notify(const char *state);

/* The watchdog interval the service manager expects pings within, in microseconds: WATCHDOG_USEC
 * when set to a positive number and WATCHDOG_PID is unset or names this process; otherwise 0
 * (no watchdog). */
uint64_t relay_sd_watchdog_usec(void);

#endif
