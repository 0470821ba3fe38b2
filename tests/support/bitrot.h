/* SPDX-License-Identifier: MPL-2.0 */
/* Damage to a file as a disk does it, for the tests of what the relay serves from damaged data. */
#ifndef WAKKS_TEST_BITROT_H
#define WAKKS_TEST_BITROT_H

#include <stddef.h>
#include <stdint.h>

/* XORs mask into the byte `at` bytes into every occurrence of needle in the file. Every one,
 * because LMDB's copy-on-write leaves older copies of a page in the file besides the live one.
 * Returns the number of occurrences (0: the needle is missing), or -1. */
int bitrot_flip(const char *path, const char *needle, size_t at, uint8_t mask);

#endif
