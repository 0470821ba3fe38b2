/* SPDX-License-Identifier: MPL-2.0 */
/* One msgpack-c zone kept per thread between decodes, so decoding a frame costs no malloc/free
 * pair for the zone's first chunk. msgpack_zone_clear() gives back every chunk beyond the first,
 * so a large frame does not leave a large zone behind. The zone is freed when its thread exits. */
#include <pthread.h>

#include "zone_internal.h"

static pthread_key_t zone_key;
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;
static int zone_key_ok;

static void zone_free(void *z)
{
	msgpack_zone_free(z);
}

static void zone_key_create(void)
{
	zone_key_ok = pthread_key_create(&zone_key, zone_free) == 0;
}

msgpack_zone *proto__zone_acquire(void)
{
	pthread_once(&zone_once, zone_key_create);
	if (zone_key_ok) {
		msgpack_zone *z = pthread_getspecific(zone_key);
		if (z != NULL) {
			pthread_setspecific(zone_key, NULL); /* in use: a nested decode gets its own */
			return z;
		}
	}
	return msgpack_zone_new(PROTO__ZONE_CHUNK);
}

void proto__zone_release(msgpack_zone *z)
{
	if (z == NULL)
		return;
	if (zone_key_ok && pthread_getspecific(zone_key) == NULL) {
		msgpack_zone_clear(z);
		if (pthread_setspecific(zone_key, z) == 0)
			return;
	}
	msgpack_zone_free(z);
}
