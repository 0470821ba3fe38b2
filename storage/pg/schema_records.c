/* SPDX-License-Identifier: MPL-2.0 */
/* PostgreSQL schema of the record areas (spec/storage-postgresql.md): consent records with their
 * latest index and report counters, the audit log and its head, and attachment blob records with
 * their grants, per-account usage and per-file counts. Applied by the engine's migration after
 * the core tables, in the same transaction.
 *
 * Names (tenant, unit) are the configuration's ASCII slugs, kept as text in the "C" collation so
 * that every comparison is bytewise; a consent text version is any 1..32 bytes without NUL, so it
 * is bytea. Counters and times are bigint (an LMDB u64 never reaches 2^63 here). The CHECK
 * constraints are the record rules of spec/storage.md §4, so a row that breaks them cannot be
 * written by any program, this one included. */

#include "pg_internal.h"

const char pg__schema_records_v1[] =
	/* §4.10: one row per consent record, never updated; seq per account from 1. */
	"CREATE TABLE consents ("
	" account_id bytea NOT NULL CHECK (length(account_id) = 16),"
	" seq bigint NOT NULL CHECK (seq >= 1),"
	" kind smallint NOT NULL CHECK (kind IN (1, 2)),"
	" tenant text COLLATE \"C\" NOT NULL CHECK (octet_length(tenant) BETWEEN 1 AND 64),"
	" unit text COLLATE \"C\" NOT NULL CHECK (octet_length(unit) <= 64),"
	" text_version bytea NOT NULL CHECK (length(text_version) BETWEEN 1 AND 32),"
	" received_at bigint NOT NULL,"
	" record bytea NOT NULL CHECK (length(record) BETWEEN 1 AND 4096),"
	" signature bytea NOT NULL CHECK (length(signature) = 64),"
	" PRIMARY KEY (account_id, seq));\n"
	/* §4.11: the latest record of (account, tenant, unit); unit '' = the whole tenant. */
	"CREATE TABLE consent_latest ("
	" account_id bytea NOT NULL,"
	" tenant text COLLATE \"C\" NOT NULL,"
	" unit text COLLATE \"C\" NOT NULL,"
	" kind smallint NOT NULL CHECK (kind IN (1, 2)),"
	" seq bigint NOT NULL,"
	" received_at bigint NOT NULL,"
	" text_version bytea NOT NULL CHECK (length(text_version) BETWEEN 1 AND 32),"
	" PRIMARY KEY (account_id, tenant, unit));\n"
	/* §4.12: the tenant report's counters; a row whose three counters are zero is deleted. */
	"CREATE TABLE consent_counts ("
	" tenant text COLLATE \"C\" NOT NULL,"
	" unit text COLLATE \"C\" NOT NULL,"
	" text_version bytea NOT NULL,"
	" grants bigint NOT NULL CHECK (grants >= 0),"
	" withdrawals bigint NOT NULL CHECK (withdrawals >= 0),"
	" active bigint NOT NULL CHECK (active >= 0),"
	" PRIMARY KEY (tenant, unit, text_version));\n"
	/* §4.8: entries are the relay's opaque bytes under their seq. */
	"CREATE TABLE audit ("
	" seq bigint PRIMARY KEY CHECK (seq >= 1),"
	" entry bytea NOT NULL CHECK (length(entry) BETWEEN 1 AND 4096));\n"
	/* §4.9: the head, one row from the start: an append locks it (SELECT ... FOR UPDATE), so
	 * appends of several relays on one database queue up behind each other and chain. */
	"CREATE TABLE audit_head ("
	" id smallint PRIMARY KEY CHECK (id = 1),"
	" seq bigint NOT NULL CHECK (seq >= 0),"
	" hash bytea NOT NULL CHECK (length(hash) = 32));\n"
	"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));\n"
	/* §4.13: one row per blob; the expiry and owner indexes replace blob_expiry and
	 * account_blobs. */
	"CREATE TABLE blobs ("
	" id bytea PRIMARY KEY CHECK (length(id) = 16),"
	" state smallint NOT NULL CHECK (state IN (1, 2)),"
	" owner_account bytea NOT NULL CHECK (length(owner_account) = 16),"
	" owner_device bytea NOT NULL CHECK (length(owner_device) = 16),"
	" size bigint NOT NULL CHECK (size >= 1),"
	" have bigint NOT NULL CHECK (have >= 0 AND have <= size AND (state = 1 OR have = size)),"
	" sha256 bytea NOT NULL CHECK (length(sha256) = 32),"
	" created_ms bigint NOT NULL,"
	" expires_at bigint NOT NULL,"
	" refs bigint NOT NULL CHECK (refs BETWEEN 0 AND 4294967295));\n"
	"CREATE INDEX blobs_expiry ON blobs (expires_at, id);\n"
	"CREATE INDEX blobs_owner ON blobs (owner_account, id);\n"
	/* §4.14: a device's download grant: unacknowledged envelopes referencing the blob. */
	"CREATE TABLE blob_grants ("
	" blob_id bytea NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,"
	" device_id bytea NOT NULL,"
	" count bigint NOT NULL CHECK (count BETWEEN 1 AND 4294967295),"
	" expires_at bigint NOT NULL,"
	" PRIMARY KEY (blob_id, device_id));\n"
	/* §4.15: bytes and number of an account's blobs; no row = none. */
	"CREATE TABLE blob_usage ("
	" account_id bytea PRIMARY KEY,"
	" bytes bigint NOT NULL CHECK (bytes >= 0),"
	" blobs bigint NOT NULL CHECK (blobs >= 0));\n"
	/* §4.16: complete blobs naming one content-addressed file; no row = none. A counter, not a
	 * count(*) over blobs: two relays removing the last two blobs of a file at once serialise
	 * on it, so exactly one of them learns that the file is unused. */
	"CREATE TABLE blob_files ("
	" sha256 bytea PRIMARY KEY,"
	" count bigint NOT NULL CHECK (count >= 1));\n";
