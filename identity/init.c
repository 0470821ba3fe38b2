/* SPDX-License-Identifier: MPL-2.0 */
/* Process-wide set-up: libsodium, and allocators for jansson and cjose that zero memory before
 * freeing it, so that claim text (a CPR number in a parsed ID token) does not linger in freed
 * heap blocks. Blocks stay ordinary malloc blocks, so free() on any of them remains correct. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

static void zero_free(void *p)
{
	if (!p)
		return;
	sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

static void *zero_realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	size_t old = malloc_usable_size(p);
	void *q = malloc(n ? n : 1);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	zero_free(p);
	return q;
}

int id_library_init(void)
{
	if (sodium_init() < 0)
		return ID_ERR_CRYPTO;
	json_set_alloc_funcs(malloc, zero_free);
	cjose_set_alloc_funcs(malloc, zero_realloc, zero_free);
	return 0;
}
