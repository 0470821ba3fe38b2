/* SPDX-License-Identifier: MPL-2.0 */
/* The msgpack-c zone a decode builds its object tree in (zone_cache.c). */
#ifndef WAKKS_PROTOCOL_ZONE_INTERNAL_H
#define WAKKS_PROTOCOL_ZONE_INTERNAL_H

#include <msgpack.h>

/* First chunk of a zone: a typical send (a few dozen objects, ~2 KiB of msgpack_object) fits. */
#define PROTO__ZONE_CHUNK 4096u

/* A cleared zone for this thread's next decode, or NULL when out of memory. */
msgpack_zone *proto__zone_acquire(void);
/* Gives the zone back: cleared and kept for the thread's next decode, or freed. */
void proto__zone_release(msgpack_zone *z);

#endif
