/* SPDX-License-Identifier: MPL-2.0 */
/* Version 1 of the core tables (spec/storage-postgresql.md §3): commit markers, accounts and their
 * units, devices, prekeys, mailboxes, the idempotency index and push subscriptions. The meta table
 * itself is created by the opening transaction before any version is read (engine.c).
 * Ids are bytea (bytewise order, as LMDB's keys), times bigint milliseconds since the epoch. */
#include "pg_internal.h"

const char pg__schema_core_v1[] =
	/* One row per committed batch, written first in the batch's transaction: after a lost
	 * connection its presence tells whether the COMMIT took effect. Deleted after a day. */
	"CREATE TABLE commit_markers ("
	" id bytea PRIMARY KEY,"
	" created_ms bigint NOT NULL);"
	"CREATE INDEX commit_markers_created ON commit_markers (created_ms);"

	"CREATE TABLE accounts ("
	" id bytea PRIMARY KEY,"
	" kind smallint NOT NULL,"
	" tenant text NOT NULL,"
	" created_ms bigint NOT NULL);"
	"CREATE INDEX accounts_tenant ON accounts (tenant, kind, id);"
	/* The units of an account in their order (pos), indexed by (tenant, unit). */
	"CREATE TABLE account_units ("
	" account_id bytea NOT NULL,"
	" pos smallint NOT NULL,"
	" tenant text NOT NULL,"
	" unit text NOT NULL,"
	" PRIMARY KEY (account_id, pos));"
	"CREATE INDEX account_units_unit ON account_units (tenant, unit, account_id);"

	/* next_seq, mailbox_count and mailbox_bytes change under the row's lock in every send. */
	"CREATE TABLE devices ("
	" id bytea PRIMARY KEY,"
	" account_id bytea NOT NULL,"
	" identity_key bytea NOT NULL,"
	" created_ms bigint NOT NULL,"
	" revoked boolean NOT NULL,"
	" revoked_ms bigint NOT NULL,"
	" label bytea NOT NULL,"
	" next_seq bigint NOT NULL,"
	" mailbox_count bigint NOT NULL,"
	" mailbox_bytes bigint NOT NULL);"
	"CREATE INDEX devices_account ON devices (account_id, id);"

	"CREATE TABLE signed_prekeys ("
	" device_id bytea PRIMARY KEY,"
	" id bigint NOT NULL,"
	" public_key bytea NOT NULL,"
	" created_ms bigint NOT NULL,"
	" signature bytea NOT NULL);"
	"CREATE TABLE one_time_prekeys ("
	" device_id bytea NOT NULL,"
	" id bigint NOT NULL,"
	" public_key bytea NOT NULL,"
	" PRIMARY KEY (device_id, id));"

	"CREATE TABLE mailbox ("
	" device_id bytea NOT NULL,"
	" seq bigint NOT NULL,"
	" kind smallint NOT NULL,"
	" sender_account bytea NOT NULL,"
	" sender_device bytea NOT NULL,"
	" message_id bytea NOT NULL,"
	" stored_at_ms bigint NOT NULL,"
	" expires_at_ms bigint NOT NULL,"
	" payload bytea NOT NULL,"
	" PRIMARY KEY (device_id, seq));"
	"CREATE INDEX mailbox_expiry ON mailbox (expires_at_ms, device_id, seq);"
	/* Envelopes per sender account in each mailbox: the per-sender share of the quota. */
	"CREATE TABLE mailbox_senders ("
	" device_id bytea NOT NULL,"
	" sender_account bytea NOT NULL,"
	" count bigint NOT NULL,"
	" PRIMARY KEY (device_id, sender_account));"

	/* seqs: the original send's (device id, seq) pairs in recipient order, 24 bytes each
	 * (16-byte id, 8-byte big-endian seq): read and written only as a whole. */
	"CREATE TABLE idempotency ("
	" sender_device bytea NOT NULL,"
	" message_id bytea NOT NULL,"
	" stored_at_ms bigint NOT NULL,"
	" expires_at_ms bigint NOT NULL,"
	" seqs bytea NOT NULL,"
	" PRIMARY KEY (sender_device, message_id));"
	"CREATE INDEX idempotency_expiry ON idempotency (expires_at_ms);"

	"CREATE TABLE push_subs ("
	" device_id bytea PRIMARY KEY,"
	" kind smallint NOT NULL,"
	" updated_ms bigint NOT NULL,"
	" p256dh bytea NOT NULL,"
	" auth bytea NOT NULL,"
	" app text NOT NULL,"
	" addr text NOT NULL);";
