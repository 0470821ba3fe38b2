/* SPDX-License-Identifier: MPL-2.0 */
/* The [storage] section's engine and PostgreSQL connection string: parsing, checking, and the
 * only form in which a connection string is ever logged (it may hold a password). */
#ifndef WAKKS_RELAY_CORE_STORAGE_CONFIG_H
#define WAKKS_RELAY_CORE_STORAGE_CONFIG_H

#include <stddef.h>

/* "lmdb" -> RELAY_ENGINE_LMDB, "postgresql" -> RELAY_ENGINE_POSTGRESQL, else -1. */
int relay_storage_engine_parse(const char *value);

/* "lmdb" or "postgresql". */
const char *relay_storage_engine_name(int engine);

/* 0 when libpq accepts conninfo (key=value pairs or a postgresql:// URI) and it names a
 * database; else -1 with the reason in why (which never repeats the string: it may hold a
 * password). */
int relay_conninfo_check(const char *conninfo, char *why, size_t why_len);

/* What may be logged of a connection string: its hosts, ports and database name
 * ("host=db1,db2 port=5432 dbname=wakks"); never the user's password or other options. */
void relay_conninfo_describe(const char *conninfo, char *out, size_t out_len);

#endif
