#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# `make run`: the relay with its embedded development defaults on https://localhost:8443 —
# a generated development certificate, the development identity provider, the demo tenant
# "Varde Kommune", and the web client when it has been built — and the tenant's journal device
# (wakks-journal), which writes a note for every unit message into ./var/journal/. Data lives in
# ./var.
set -eu
BUILD=${1:-build}
PORT=${WAKKS_PORT:-8443}
WEB_ROOT=""
if [ -f clients/web/dist/index.html ]; then
	WEB_ROOT="clients/web/dist"
fi
CONFIG=$(mktemp)
JCONFIG=$(mktemp)
RELAY_PID=""
JOURNAL_PID=""
cleanup() {
	[ -n "$JOURNAL_PID" ] && kill "$JOURNAL_PID" 2>/dev/null
	[ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
	wait 2>/dev/null
	rm -f "$CONFIG" "$JCONFIG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
{
	echo "[relay]"
	echo "data_dir = ./var"
	echo "listen = 127.0.0.1"
	echo "port = $PORT"
	[ -n "$WEB_ROOT" ] && echo "web_root = $WEB_ROOT"
} >"$CONFIG"
echo "OS2wakks relay: https://localhost:$PORT/  (status: http://127.0.0.1:9464/healthz; stop with Ctrl-C)" >&2
"$BUILD/server/wakks-relay" --config "$CONFIG" --dev &
RELAY_PID=$!
# The journal device registers through the development AD FS as journal@varde.dk, the demo
# tenant's journal UPN, once the relay answers.
i=0
until [ -f ./var/dev-cert.pem ] && curl -s -o /dev/null --cacert ./var/dev-cert.pem \
	"https://localhost:$PORT/"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$RELAY_PID" 2>/dev/null; then
		echo "run-dev: the relay did not come up; no journal device" >&2
		wait "$RELAY_PID"
		exit 1
	fi
	sleep 0.1
done
cat >"$JCONFIG" <<CONF
relay_url = wss://localhost:$PORT
ca_file = ./var/dev-cert.pem
state_dir = ./var/journal-device
idp = dev-adfs
devidp_user = journal
destination = directory
directory = ./var/journal
CONF
"$BUILD/clients/journal/wakks-journal" run --config "$JCONFIG" &
JOURNAL_PID=$!
echo "OS2wakks journal device: notes in ./var/journal/" >&2
wait "$RELAY_PID"
