/* SPDX-License-Identifier: MPL-2.0 */
/* Version 1 of the relay's tables (spec/storage-postgresql.md §5): device rates and blob data.
 * Empty until the relay keeps them here. */
#include "pg_internal.h"

const char pg__schema_relay_v1[] = "";
