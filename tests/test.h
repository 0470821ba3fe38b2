/* SPDX-License-Identifier: MPL-2.0 */
/* A minimal test harness: CHECK records a failure and goes on, so one run reports every broken
 * expectation; TEST_MAIN's exit status tells meson whether the test executable passed. */
#ifndef WAKKS_TEST_H
#define WAKKS_TEST_H

#include <stdio.h>
#include <string.h>

static int test__failures;
static int test__checks;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		test__checks++;                                                          \
		if (!(cond)) {                                                           \
			test__failures++;                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                        \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                               \
	do {                                                                             \
		long long test__a = (long long)(a), test__b = (long long)(b);            \
		test__checks++;                                                          \
		if (test__a != test__b) {                                                \
			test__failures++;                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, test__a, test__b);           \
		}                                                                        \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* Stops the current test function; for preconditions without which the rest is meaningless.
 * The condition is evaluated once (it often has effects). */
#define REQUIRE(cond)                                                                    \
	do {                                                                             \
		test__checks++;                                                          \
		if (!(cond)) {                                                           \
			test__failures++;                                                \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
			return;                                                          \
		}                                                                        \
	} while (0)

#define RUN(fn)                                                                          \
	do {                                                                             \
		int test__before = test__failures;                                       \
		fn();                                                                    \
		fprintf(stderr, "%s %s\n", test__failures == test__before ? "ok  " : "FAIL", #fn); \
	} while (0)

#define TEST_RESULT()                                                                    \
	(fprintf(stderr, "%d checks, %d failed\n", test__checks, test__failures),        \
	 test__failures == 0 && test__checks > 0 ? 0 : 1)

#endif
