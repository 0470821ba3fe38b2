#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# `make run`: the relay with its embedded development defaults on https://localhost:8443 —
# a generated development certificate, the development identity provider, the demo tenant
# "Varde Kommune", and the web client when it has been built. Data lives in ./var.
set -eu
BUILD=${1:-build}
WEB_ROOT=""
if [ -f clients/web/dist/index.html ]; then
	WEB_ROOT="clients/web/dist"
fi
CONFIG=$(mktemp)
trap 'rm -f "$CONFIG"' EXIT
{
	echo "[relay]"
	echo "data_dir = ./var"
	echo "listen = 127.0.0.1"
	echo "port = ${WAKKS_PORT:-8443}"
	[ -n "$WEB_ROOT" ] && echo "web_root = $WEB_ROOT"
} >"$CONFIG"
echo "OS2wakks relay: https://localhost:${WAKKS_PORT:-8443}/  (status: http://127.0.0.1:9464/healthz; stop with Ctrl-C)" >&2
exec "$BUILD/server/wakks-relay" --config "$CONFIG" --dev
