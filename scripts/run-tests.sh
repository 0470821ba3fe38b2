#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Runs every meson test in each build directory given, prints failures' logs, and ends with the
# line `N passed, N failed` summed over all builds. Exits non-zero when anything failed.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR..." >&2; exit 2; }

status=0
for dir in "$@"; do
	echo "== tests in $dir"
	# ASan reports leaks of lws/OpenSSL globals that are not ours; UBSan must stop the test.
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
	LSAN_OPTIONS="suppressions=$(pwd)/scripts/lsan.supp:${LSAN_OPTIONS:-}" \
		meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
done

python3 - "$@" <<'PY'
import json, sys, os
passed = failed = 0
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        failed += 1
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
                passed += 1
            else:
                failed += 1
                print(f"FAILED: {d}: {r.get('name')} ({r.get('result')})")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
py=$?
[ $status -eq 0 ] && [ $py -eq 0 ]
