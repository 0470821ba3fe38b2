/* SPDX-License-Identifier: MPL-2.0 */
/* Version 1 of the records tables (spec/storage-postgresql.md §4): consents, the audit log and
 * blobs. Empty until the engine stores them. */
#include "pg_internal.h"

const char pg__schema_records_v1[] = "";
