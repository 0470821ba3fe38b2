/* SPDX-License-Identifier: MPL-2.0 */
/* Injected randomness for reproducible test vectors. This file compiles to nothing unless the
 * build was configured with -Dtest_hooks=true: production builds contain no path by which the
 * random source can be replaced. */
#include "wc_internal.h"

#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
#include <stdio.h>
#include <stdlib.h>

static enum { SRC_SEED, SRC_QUEUE } wc__src;
static uint8_t wc__seed_key[crypto_stream_chacha20_ietf_KEYBYTES];
static uint64_t wc__seed_offset;
static uint8_t *wc__queue;
static size_t wc__queue_len, wc__queue_pos;
static uint8_t *wc__log;
static size_t wc__log_cap, wc__log_len;

static void test_buf(void *const buf, const size_t size)
{
	uint8_t *p = buf;
	if (wc__src == SRC_QUEUE) {
		if (size > wc__queue_len - wc__queue_pos) {
			fprintf(stderr, "wc_test_random: queue exhausted (%zu wanted, %zu left)\n",
				size, wc__queue_len - wc__queue_pos);
			abort();
		}
		memcpy(p, wc__queue + wc__queue_pos, size);
		wc__queue_pos += size;
	} else {
		/* Seeded stream: ChaCha20 keystream (RFC 8439 block function) under
		 * SHA-256("wakks/v1/test-random" || seed_be64), consumed sequentially. */
		uint8_t block[64];
		size_t done = 0;
		while (done < size) {
			uint64_t blk = wc__seed_offset / 64;
			size_t off = (size_t)(wc__seed_offset % 64);
			uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
			memset(block, 0, sizeof block);
			crypto_stream_chacha20_ietf_xor_ic(block, block, 64, nonce, (uint32_t)blk,
							   wc__seed_key);
			size_t n = 64 - off < size - done ? 64 - off : size - done;
			memcpy(p + done, block + off, n);
			done += n;
			wc__seed_offset += n;
		}
	}
	if (wc__log) {
		size_t n = size < wc__log_cap - wc__log_len ? size : wc__log_cap - wc__log_len;
		memcpy(wc__log + wc__log_len, p, n);
		wc__log_len += n;
	}
}

static uint32_t test_random(void)
{
	uint32_t v;
	test_buf(&v, sizeof v);
	return v;
}

static const char *test_name(void)
{
	return "wakks-test";
}

static randombytes_implementation wc__test_impl = {
	.implementation_name = test_name,
	.random = test_random,
	.stir = NULL,
	.uniform = NULL,
	.buf = test_buf,
	.close = NULL,
};

void wc_test_random_seed(uint64_t seed)
{
	uint8_t in[20 + 8];
	memcpy(in, "wakks/v1/test-random", 20);
	wakks_store_be64(in + 20, seed);
	crypto_hash_sha256(wc__seed_key, in, sizeof in);
	wc__seed_offset = 0;
	wc__src = SRC_SEED;
	randombytes_set_implementation(&wc__test_impl);
}

void wc_test_random_queue(const uint8_t *bytes, size_t len)
{
	free(wc__queue);
	wc__queue = malloc(len ? len : 1);
	if (!wc__queue)
		abort();
	memcpy(wc__queue, bytes, len);
	wc__queue_len = len;
	wc__queue_pos = 0;
	wc__src = SRC_QUEUE;
	randombytes_set_implementation(&wc__test_impl);
}

size_t wc_test_random_remaining(void)
{
	return wc__src == SRC_QUEUE ? wc__queue_len - wc__queue_pos : SIZE_MAX;
}

void wc_test_random_system(void)
{
	free(wc__queue);
	wc__queue = NULL;
	wc__queue_len = wc__queue_pos = 0;
	randombytes_set_implementation(&randombytes_sysrandom_implementation);
}

void wc_test_random_log_start(uint8_t *buf, size_t cap)
{
	wc__log = buf;
	wc__log_cap = cap;
	wc__log_len = 0;
}

size_t wc_test_random_log_stop(void)
{
	size_t n = wc__log_len;
	wc__log = NULL;
	wc__log_cap = wc__log_len = 0;
	return n;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int wc__random_unused;
#endif
