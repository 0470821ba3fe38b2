/* SPDX-License-Identifier: MPL-2.0 */
/* The relay process: one libuv loop owned by us, libwebsockets on it (its libuv event library),
 * the storage writer thread beside it. relay.c wires the parts together; everything here runs on
 * the loop thread. */
#ifndef WAKKS_RELAY_RELAY_H
#define WAKKS_RELAY_RELAY_H

#include "relay_state.h"

/* Creates the lws context on `loop`, opens storage, installs signal handlers.
 * Returns 0, or -1 after logging why. */
int relay_start(struct relay *r, uv_loop_t *loop);

/* Begins an orderly stop: refuse new connections, close WebSockets with 1001, then flush storage
 * and let the loop run out. Safe to call more than once. */
void relay_stop(struct relay *r);

#endif
