/* SPDX-License-Identifier: MPL-2.0 */
/* tests/test.h plus MUST: like REQUIRE but evaluates its condition exactly once, so it may wrap
 * calls with side effects (key generation, decryption). */
#ifndef WAKKS_CRYPTO_TEST_H
#define WAKKS_CRYPTO_TEST_H

#include "test.h"

#define MUST(cond)                                                                       \
	do {                                                                             \
		int must__ok = !!(cond);                                                 \
		test__checks++;                                                          \
		if (!must__ok) {                                                         \
			test__failures++;                                                \
			fprintf(stderr, "%s:%d: MUST failed: %s\n", __FILE__, __LINE__, #cond); \
			return;                                                          \
		}                                                                        \
	} while (0)

#endif
