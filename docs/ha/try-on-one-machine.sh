#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# The reference HA set-up of docs/deployment.md section 8, run from the files in this folder on
# one Debian 12 machine, to see it work before building it: three etcd members, Patroni with
# PostgreSQL 15 on "db1" and "db2", a relay on the multi-host connection string of relay.conf;
# then db1 dies (Patroni and every PostgreSQL process SIGKILLed) and the script waits until
# Patroni has promoted db2 and the relay's /readyz is 200 again, without touching the relay.
#
#   sudo docs/ha/try-on-one-machine.sh [BUILD_DIR]    (default build; needs server/wakks-relay)
#
# The machines' addresses 10.0.2.21-23 become the loopback addresses 127.0.2.21-23 (all on lo),
# paths go to a temporary directory, and since every loopback connection comes from 127.0.0.1,
# pg_hba admits 127.0.0.0/8 where the files name one machine. Everything else is the files as
# shipped. Installs postgresql-15, patroni and etcd-server if missing; leaves nothing running.
# Takes about a minute and a half. Not part of `make test` (Patroni's fail-over alone takes its
# leader key's ttl, 30 s).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
RELAY=$(pwd)/$BUILD/server/wakks-relay
HA=$(pwd)/docs/ha
[ "$(id -u)" -eq 0 ] || { echo "run as root (PostgreSQL runs as the postgres user)" >&2; exit 2; }
[ -x "$RELAY" ] || { echo "no $RELAY: build first (meson setup $BUILD && ninja -C $BUILD)" >&2; exit 2; }
WAKKS_EXTRA_PACKAGES="postgresql-15 patroni etcd-server" ./scripts/deps.sh

T=$(mktemp -d /tmp/wakks-ha-XXXXXX)
chmod 755 "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 5
	for d in "$T"/db1/data "$T"/db2/data; do
		[ -f "$d/postmaster.pid" ] && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl \
			-D "$d" -m immediate -w stop >/dev/null 2>&1 || true
	done
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
local_ip() { sed -e 's/10\.0\.2\./127.0.2./g'; }
elapsed() { echo $(( $(date +%s) - START )); }

echo "== etcd: three members"
for m in db1 db2 witness; do
	local_ip <"$HA/etcd-$m.env" | sed -e 's#,http://127.0.0.1:2379##' \
		-e "s#/var/lib/etcd/default#$T/etcd-$m#" >"$T/etcd-$m.env"
	(set -a; . "$T/etcd-$m.env"; set +a; exec etcd >"$T/etcd-$m.log" 2>&1) &
	PIDS="$PIDS $!"
done

echo "== PostgreSQL 15 + Patroni on db1, then db2"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/db.key" -out "$T/db.pem" -days 1 \
	-subj /CN=db.wakks.internal >/dev/null 2>&1
mkdir -p "$T/wal"
chown postgres "$T/db.key" "$T/db.pem" "$T/wal"
chmod 600 "$T/db.key"
for n in 1 2; do
	d=$T/db$n
	mkdir -p "$d/sock"
	local_ip <"$HA/patroni-db$n.yml" | sed \
		-e 's#127\.0\.2\.2[12]/32#127.0.0.0/8#' -e 's#10\.0\.1\.0/24#127.0.0.0/8#' \
		-e "s#listen: 0.0.0.0:5432#listen: 127.0.2.2$n:5432#" \
		-e "s#/var/lib/postgresql/15/main#$d/data#" -e "s#/var/lib/postgresql/15-main.pgpass#$d/pgpass#" \
		-e "s#/var/run/postgresql#$d/sock#" -e "s#/srv/pg-archive/wal#$T/wal#g" \
		-e "s#/etc/postgresql/tls/#$T/#" \
		-e 's/shared_buffers: 2GB/shared_buffers: 32MB/' -e 's/effective_cache_size: 6GB/effective_cache_size: 128MB/' \
		>"$d/patroni.yml"
	chown -R postgres "$d"
	chmod 700 "$d"
	chmod 600 "$d/patroni.yml"
done
role_of() { patronictl -c "$T/db2/patroni.yml" list 2>/dev/null | awk -F'|' -v m="$1" '$2 ~ m {gsub(/ /, "", $4); print $4}'; }
(cd "$T" && exec runuser -u postgres -- patroni "$T/db1/patroni.yml" >"$T/db1/patroni.log" 2>&1) &
PIDS="$PIDS $!"
for i in $(seq 60); do [ "$(role_of db1)" = Leader ] && break; sleep 1; done
(cd "$T" && exec runuser -u postgres -- patroni "$T/db2/patroni.yml" >"$T/db2/patroni.log" 2>&1) &
PIDS="$PIDS $!"
for i in $(seq 90); do [ "$(role_of db2)" = SyncStandby ] && break; sleep 1; done
patronictl -c "$T/db2/patroni.yml" list
[ "$(role_of db2)" = SyncStandby ] || { echo "db2 did not become the synchronous standby" >&2; exit 1; }

echo "== the relays' database (deployment.md step 3) and a relay on relay.conf's connection string"
runuser -u postgres -- psql -h "$T/db1/sock" -d postgres -qc "CREATE ROLE os2wakks LOGIN PASSWORD 'try-it'"
runuser -u postgres -- createdb -h "$T/db1/sock" --owner=os2wakks --encoding=UTF8 wakks
mkdir -p "$T/relay"
chmod 700 "$T/relay"
printf '127.0.2.21:5432:wakks:os2wakks:try-it\n127.0.2.22:5432:wakks:os2wakks:try-it\n' >"$T/relay/pgpass"
chmod 600 "$T/relay/pgpass"
# The certificate here is self-signed for one name: require TLS without checking the name.
conninfo=$(sed -n 's/^conninfo = //p' "$HA/relay.conf" | sed -e 's/db1\.wakks\.internal/127.0.2.21/' \
	-e 's/db2\.wakks\.internal/127.0.2.22/' -e "s#passfile=[^ ]*#passfile=$T/relay/pgpass#" \
	-e 's/sslmode=verify-full sslrootcert=[^ ]*/sslmode=require/')
printf '[relay]\nlisten = 127.0.0.1\nport = 0\ndata_dir = %s\nadmin_listen = 127.0.0.1:0\n[storage]\nengine = postgresql\nconninfo = %s\n' \
	"$T/relay/data" "$conninfo" >"$T/relay/relay.conf"
"$RELAY" --config "$T/relay/relay.conf" --dev >"$T/relay/relay.log" 2>&1 &
PIDS="$PIDS $!"
for i in $(seq 30); do grep -q "event=listening" "$T/relay/relay.log" && break; sleep 1; done
admin=$(sed -n 's/.*event=admin_listening port=\([0-9]*\).*/\1/p' "$T/relay/relay.log")
ready() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz"; }
echo "relay /readyz: $(ready)"

echo "== db1 dies: Patroni and every PostgreSQL process of db1 SIGKILLed"
pm=$(head -1 "$T/db1/data/postmaster.pid")
kill -STOP "$pm"
kill -9 $(pgrep -f "patroni $T/db1/patroni.yml") $(pgrep -P "$pm") "$pm"
START=$(date +%s)
promoted=""
for i in $(seq 90); do
	sleep 1
	r=$(ready)
	[ -z "$promoted" ] && [ "$(role_of db2)" = Leader ] && promoted=$(elapsed) && echo "t=${promoted}s: db2 is the leader"
	[ -n "$promoted" ] && [ "$r" = 200 ] && break
	[ $((i % 5)) -eq 0 ] && echo "t=$(elapsed)s: relay /readyz $r"
done
echo "t=$(elapsed)s: relay /readyz $(ready)"
patronictl -c "$T/db2/patroni.yml" list
[ -n "$promoted" ] && [ "$(ready)" = 200 ] && echo "fail-over: db2 promoted after ${promoted}s; the relay stores again after $(elapsed)s, never restarted" \
	|| { echo "fail-over did not complete" >&2; exit 1; }
