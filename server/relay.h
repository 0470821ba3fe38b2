/* SPDX-License-Identifier: MPL-2.0 */
/* The relay process: one libuv loop owned by us, libwebsockets on it (its libuv event library),
 * the storage writer thread beside it. Everything here runs on the loop thread. */
#ifndef WAKKS_RELAY_RELAY_H
#define WAKKS_RELAY_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <uv.h>

#include "core/config.h"
#include "services/consent_gate.h"
#include "services/identity_binding.h"
#include "services/metrics.h"
#include "net/registry.h"

struct blob_busy;
struct relay_conn;
struct store;

struct relay {
	uv_loop_t *loop;
	struct relay_config cfg;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	struct store *store;
	uv_signal_t sigint, sigterm;
	uv_timer_t housekeeping; /* unauthenticated deadlines, expiry, rate-limit refill */
	uv_timer_t shutdown_timer;
	uint64_t started_ms;
	struct relay_conn *conns; /* every open WebSocket connection, doubly linked */
	struct relay_registry registry;
	struct relay_identity identity;
	struct relay_consent_text *consent_texts;
	size_t consent_text_count;
	struct idmap lookup_buckets; /* caseworker account -> struct lookup_bucket */
	struct idmap receipts; /* device id -> struct receipt_queue, for offline senders */
	uint64_t conn_count;
	uint64_t next_conn_id;
	struct relay_metrics metrics;
	/* Scratch frames and encode buffer: the loop is single-threaded and every frame is encoded
	 * and queued (copied) before the next is built. */
	struct relay_scratch *scratch; /* large per-request working memory, see devset.h */
	struct proto_frame *rx_frame;
	struct proto_frame *tx_frame;
	uint8_t *tx_buf;
	size_t tx_cap;
	bool stopping;
	bool expire_inflight;
	struct blob_busy *blob_busy; /* blobs with a chunk being written (handle_blob.c) */
	uint64_t housekeeping_ticks;
	uint64_t stop_deadline_ms;
	int exit_status;
	char tls_cert[RELAY_CONFIG_PATH_MAX];
	char tls_key[RELAY_CONFIG_PATH_MAX];
};

/* Creates the lws context on `loop`, opens storage, installs signal handlers.
 * Returns 0, or -1 after logging why. */
int relay_start(struct relay *r, uv_loop_t *loop);

/* Begins an orderly stop: refuse new connections, close WebSockets with 1001, then flush storage
 * and let the loop run out. Safe to call more than once. */
void relay_stop(struct relay *r);

#endif
