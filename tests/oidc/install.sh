#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Installs the test provider's packages (oidc-provider) from the committed lock file, only when
# node_modules is missing or the lock file changed since the last install.
set -eu
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	WAKKS_EXTRA_PACKAGES="nodejs npm" ../../scripts/deps.sh
fi
stamp=node_modules/.wakks-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
	echo "$want" >"$stamp"
fi
