/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's two clocks, in their own unit so that reading the time depends on nothing else. */
#ifndef WAKKS_RELAY_CORE_CLOCK_H
#define WAKKS_RELAY_CORE_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch: for times that go on the wire or into storage
 * (stored_at, expiry, audit entries, receipts). */
uint64_t relay_now_ms(void);

/* Monotonic milliseconds: for deadlines and intervals measured inside this process (rate-limit
 * refill, unauthenticated lifetime, key-set reload spacing). */
uint64_t relay_monotonic_ms(void);

#endif
