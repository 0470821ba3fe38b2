/* SPDX-License-Identifier: MPL-2.0 */
/* Looks up one parameter of a URL's query string, for tests that follow a redirect by reading
 * the code out of its Location. */
#ifndef WAKKS_TEST_QUERY_H
#define WAKKS_TEST_QUERY_H

#include <stddef.h>

/* Copies the raw (still percent-encoded) value of `name` from the query of `url` (after '?', up
 * to '&' or '#') into out. Returns out, or NULL when absent or longer than cap - 1. */
const char *query_param(const char *url, const char *name, char *out, size_t cap);

#endif
