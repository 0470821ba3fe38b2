/* SPDX-License-Identifier: MPL-2.0 */
/* The throw-away PostgreSQL servers the PostgreSQL tests run on (tests/support/pg_server): what
 * those tests rely on, checked against the real server. A committed row survives a kill -9 and
 * a restart; a row committed on a primary with a synchronous standby survives the primary's
 * death through the standby's promotion; test databases are separate and dropped. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_server.h"
#include "test.h"

static PGconn *connect_db(const struct pg_server *s, const char *db)
{
	char ci[300];
	if (pg_server_conninfo(s, db, ci, sizeof ci) != 0)
		return NULL;
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* The single value of a one-row query, or -1. */
static long scalar(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atol(PQgetvalue(r, 0, 0)) : -1;
	if (v < 0)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return v;
}

static void test_settings_and_crash_recovery(void)
{
	struct pg_server s;
	REQUIRE(pg_server_start(&s) == 0);
	PGconn *c = connect_db(&s, "postgres");
	REQUIRE(c);
	/* What the durability tests assume of the server. */
	CHECK_EQ_INT(scalar(c, "SELECT (current_setting('fsync') = 'on')::int"), 1);
	CHECK_EQ_INT(scalar(c, "SELECT (current_setting('synchronous_commit') = 'on')::int"), 1);
	CHECK_EQ_INT(scalar(c, "SELECT (current_setting('data_checksums') = 'on')::int"), 1);
	CHECK(getuid() != 0 || scalar(c, "SELECT (current_user = 'postgres')::int") == 1);
	CHECK(pg_server_exec(&s, NULL, "CREATE TABLE t (v int); INSERT INTO t VALUES (7)") == 0);
	PQfinish(c);
	pg_server_kill(&s);
	CHECK(s.pid == 0);
	REQUIRE(pg_server_restart(&s) == 0);
	c = connect_db(&s, "postgres");
	REQUIRE(c);
	CHECK_EQ_INT(scalar(c, "SELECT sum(v) FROM t"), 7);
	PQfinish(c);
	CHECK(pg_server_stop(&s) == 0);
	char dir[sizeof s.dir];
	strcpy(dir, s.dir);
	pg_server_cleanup(&s);
	CHECK(access(dir, F_OK) != 0);
}

static void test_synchronous_standby_promotion(void)
{
	struct pg_server primary, standby;
	REQUIRE(pg_server_start(&primary) == 0);
	REQUIRE(pg_server_exec(&primary, NULL, "CREATE TABLE t (v int)") == 0);
	REQUIRE(pg_server_start_standby(&standby, &primary) == 0);
	CHECK(standby.port != primary.port);
	/* Acknowledged by the primary only once the standby flushed it. */
	CHECK(pg_server_exec(&primary, NULL, "INSERT INTO t VALUES (1), (2)") == 0);
	pg_server_kill(&primary);
	/* Still a read-only standby until promoted. */
	CHECK(pg_server_exec(&standby, NULL, "INSERT INTO t VALUES (100)") != 0);
	REQUIRE(pg_server_promote(&standby) == 0);
	CHECK(pg_server_exec(&standby, NULL, "INSERT INTO t VALUES (4)") == 0);
	PGconn *c = connect_db(&standby, "postgres");
	REQUIRE(c);
	CHECK_EQ_INT(scalar(c, "SELECT sum(v) FROM t"), 7);
	PQfinish(c);
	/* A multi-host connection string asking for a writable server finds the promoted one. */
	char ci[300];
	snprintf(ci, sizeof ci, "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
		 "target_session_attrs=read-write connect_timeout=3", primary.port, standby.port);
	c = PQconnectdb(ci);
	CHECK(PQstatus(c) == CONNECTION_OK);
	CHECK(PQstatus(c) != CONNECTION_OK || atoi(PQport(c)) == standby.port);
	PQfinish(c);
	pg_server_cleanup(&standby);
	pg_server_cleanup(&primary);
}

static void test_databases(void)
{
	char ci1[600], ci2[600], n1[64], n2[64];
	REQUIRE(pg_test_create_db(ci1, sizeof ci1, n1, sizeof n1) == 0);
	REQUIRE(pg_test_create_db(ci2, sizeof ci2, n2, sizeof n2) == 0);
	CHECK(strcmp(n1, n2) != 0);
	PGconn *a = PQconnectdb(ci1), *b = PQconnectdb(ci2);
	REQUIRE(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK);
	PQclear(PQexec(a, "CREATE TABLE only_here (v int)"));
	CHECK_EQ_INT(scalar(a, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'"), 1);
	CHECK_EQ_INT(scalar(b, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'"), 0);
	/* Dropped with its session still open (a killed relay's connection may linger). */
	CHECK(pg_test_drop_db(n1) == 0);
	CHECK(pg_test_drop_db(n2) == 0);
	PQfinish(a);
	PQfinish(b);
	PGconn *gone = PQconnectdb(ci1);
	CHECK(PQstatus(gone) != CONNECTION_OK);
	PQfinish(gone);
}

int main(void)
{
	RUN(test_settings_and_crash_recovery);
	RUN(test_synchronous_standby_promotion);
	RUN(test_databases);
	return TEST_RESULT();
}
