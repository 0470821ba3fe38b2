/* SPDX-License-Identifier: MPL-2.0 */
#include "core/clock.h"

#include <time.h>

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t relay_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

uint64_t relay_monotonic_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}
