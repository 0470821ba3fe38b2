#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Installs the Debian packages the build, the tests and `make run` need, and only those missing.
# Idempotent and silent when everything is present; `apt-get update` runs only when something is missing.
# Test-only packages come through WAKKS_EXTRA_PACKAGES from the targets that need them (the
# journal tests' sshd and poppler-utils: `make test`, `make asan`), so `make run` does not install
# an SSH server.
set -eu

# nginx, haproxy: the reverse proxies the tests put in front of a relay
# (tests/integration/test_reverse_proxy.c); the tests start their own instances on loopback ports.
# libpq-dev: the relay's PostgreSQL storage engine (libpq); the server itself (postgresql-15) is
# test-only and comes through WAKKS_EXTRA_PACKAGES.
PACKAGES="build-essential meson ninja-build pkg-config clang libclang-rt-14-dev \
libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libssl-dev openssl \
libsodium-dev liblmdb-dev lmdb-utils libpq-dev libmsgpack-dev libcjose-dev libjansson-dev libcurl4-openssl-dev libssh2-1-dev \
python3 python3-cryptography python3-h2 curl ca-certificates nginx haproxy ${WAKKS_EXTRA_PACKAGES:-}"
# `./scripts/deps.sh packaging` (make deb): also what building the Debian package needs.
if [ "${1:-}" = packaging ]; then
	PACKAGES="$PACKAGES debhelper dpkg-dev fakeroot adduser"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
