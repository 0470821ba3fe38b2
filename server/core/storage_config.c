/* SPDX-License-Identifier: MPL-2.0 */
#include "core/storage_config.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/config.h"

int relay_storage_engine_parse(const char *value)
{
	if (strcmp(value, "lmdb") == 0)
		return RELAY_ENGINE_LMDB;
	if (strcmp(value, "postgresql") == 0)
		return RELAY_ENGINE_POSTGRESQL;
	return -1;
}

const char *relay_storage_engine_name(int engine)
{
	return engine == RELAY_ENGINE_POSTGRESQL ? "postgresql" : "lmdb";
}

int relay_conninfo_check(const char *conninfo, char *why, size_t why_len)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		/* libpq's message may quote the string around the mistake, password included. */
		PQfreemem(err);
		snprintf(why, why_len, "is not a libpq connection string (key=value pairs, or a "
				       "postgresql:// URI)");
		return -1;
	}
	bool named = false;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val && o->val[0])
			named = true;
	PQconninfoFree(opts);
	if (!named) {
		/* libpq would fall back to the user's name: a relay must name its database. */
		snprintf(why, why_len, "names no database (dbname=...)");
		return -1;
	}
	return 0;
}

void relay_conninfo_describe(const char *conninfo, char *out, size_t out_len)
{
	static const char *const shown[] = { "host", "hostaddr", "port", "dbname" };
	out[0] = '\0';
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	if (!opts) {
		snprintf(out, out_len, "(unparsable)");
		return;
	}
	size_t used = 0;
	for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
		for (PQconninfoOption *o = opts; o->keyword; o++) {
			if (strcmp(o->keyword, shown[i]) != 0 || !o->val || !o->val[0])
				continue;
			int n = snprintf(out + used, out_len - used, "%s%s=%s", used ? " " : "",
					 o->keyword, o->val);
			if (n < 0 || (size_t)n >= out_len - used) {
				out[used] = '\0';
				break;
			}
			used += (size_t)n;
		}
	}
	PQconninfoFree(opts);
}
