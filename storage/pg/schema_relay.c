/* SPDX-License-Identifier: MPL-2.0 */
/* The relay-wide tables of the PostgreSQL engine (spec/storage-postgresql.md §5):
 * rate-limit buckets that every relay on the database shares, and the bytes of attachment blobs
 * (the records are in schema_records.c). Part of schema version 1, applied after the core and
 * records DDL in the same transaction. */
#include "pg_internal.h"

const char pg__schema_relay_v1[] =
	/* One token bucket per (device or other key, kind): tokens as of at_ms (the database's
	 * clock, so relays with skewed clocks agree), taken = whether the last attempt got one. */
	"CREATE TABLE device_rates ("
	" key bytea NOT NULL,"
	" kind smallint NOT NULL,"
	" tokens double precision NOT NULL,"
	" taken boolean NOT NULL,"
	" at_ms bigint NOT NULL,"
	" PRIMARY KEY (key, kind));"
	"CREATE INDEX device_rates_at ON device_rates (at_ms);"
	/* Blob bytes: key is a blob id (16 bytes) while it is uploaded, its SHA-256 (32 bytes) once
	 * sealed; one row per chunk as the client sent it (at most 1 MiB). Sealing re-keys the rows
	 * in place, so the bytes are written once. Ciphertext does not compress: stored out of line
	 * uncompressed. */
	"CREATE TABLE blob_data ("
	" key bytea NOT NULL,"
	" off bigint NOT NULL,"
	" len integer NOT NULL,"
	" data bytea NOT NULL,"
	" written_ms bigint NOT NULL,"
	" PRIMARY KEY (key, off));"
	"ALTER TABLE blob_data ALTER COLUMN data SET STORAGE EXTERNAL;"
	/* Sealed contents: present exactly when blob_data holds all size bytes under sha256. */
	/* Login challenges (spec/identity.md §2.2): one per identity key, any relay finds it. */
	"CREATE TABLE login_challenges ("
	" ik bytea PRIMARY KEY,"
	" challenge bytea NOT NULL,"
	" expires_ms bigint NOT NULL);"
	"CREATE INDEX login_challenges_expiry ON login_challenges (expires_ms);"
	"CREATE TABLE blob_sealed ("
	" sha256 bytea PRIMARY KEY,"
	" size bigint NOT NULL,"
	" sealed_ms bigint NOT NULL);";
