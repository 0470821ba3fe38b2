#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# scripts/os2wakks-backup (run nightly by os2wakks-backup.timer) against a real relay data
# directory: each run leaves one more verified backup until KEEP are there, then the oldest goes;
# a failed backup removes nothing; files that are not its backups are never touched; a bad --keep
# is refused. Usage: test_backup_retention.sh SOURCE_ROOT (WAKKS_RELAY names the relay binary).
set -eu
src=$1
relay=${WAKKS_RELAY:?WAKKS_RELAY names the relay binary}
script="$src/scripts/os2wakks-backup"
work=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
failures=0
checks=0
check() { # check DESCRIPTION COMMAND...
	what=$1
	shift
	checks=$((checks + 1))
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

# A data directory with a database: the relay creates it on its first start.
mkdir -m 0700 "$work/data"
printf '[relay]\nlisten = 127.0.0.1\nport = 0\nadmin_listen = 127.0.0.1:0\ndata_dir = %s/data\n' "$work" >"$work/relay.conf"
"$relay" --config "$work/relay.conf" --dev 2>"$work/relay.log" &
pid=$!
i=0
until grep -q 'event=listening' "$work/relay.log"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/relay.log"; exit 1; }
	sleep 0.1
done
# Backups are hot: the relay keeps running through them.

backups() { ls -1 "$work/backups" | grep -c '^wakks-' || true; }
mkdir -m 0700 "$work/backups"
echo "keep me" >"$work/backups/notes.txt"
mkdir "$work/backups/wakks-manual-copy"

for n in 1 2 3; do
	WAKKS_RELAY=$relay "$script" --config "$work/relay.conf" --dir "$work/backups" --keep 2 \
		>"$work/run$n.log" 2>&1 || { cat "$work/run$n.log"; exit 1; }
done
ls -1 "$work/backups" | grep -E '^wakks-[0-9]{8}T' | sort >"$work/after3"
check "three runs with --keep 2 leave two backups" test "$(wc -l <"$work/after3")" -eq 2
check "the oldest was removed, and said so" grep -q 'removed .* (keeping the newest 2)' "$work/run3.log"
check "the first run removed nothing" sh -c "! grep -q removed '$work/run1.log'"
newest=$(tail -n 1 "$work/after3")
check "the newest backup verifies" "$relay" backup --verify "$work/backups/$newest"
check "the backup is private (0700)" test "$(stat -c %a "$work/backups/$newest")" = 700
check "other files are untouched" test -f "$work/backups/notes.txt"
check "a directory not named by the script is untouched" test -d "$work/backups/wakks-manual-copy"

# A failing backup (its configuration names no such data directory) removes nothing.
printf '[relay]\ndata_dir = %s/missing/data\n' "$work" >"$work/bad.conf"
check "a failed backup exits 1" sh -c "! WAKKS_RELAY='$relay' '$script' --config '$work/bad.conf' --dir '$work/backups' --keep 1 >'$work/bad.log' 2>&1"
check "a failed backup says older ones are kept" grep -q 'older backups are kept' "$work/bad.log"
ls -1 "$work/backups" | grep -E '^wakks-[0-9]{8}T' | sort >"$work/afterbad"
check "a failed backup removed nothing" cmp -s "$work/after3" "$work/afterbad"

# --keep 1 after a good backup: only that one remains.
WAKKS_RELAY=$relay "$script" --config "$work/relay.conf" --dir "$work/backups" --keep 1 >/dev/null 2>&1
check "--keep 1 leaves only the newest" test "$(ls -1 "$work/backups" | grep -cE '^wakks-[0-9]{8}T')" -eq 1
check "--keep 1 kept the one just taken" sh -c "ls -1 '$work/backups' | grep -E '^wakks-[0-9]{8}T' | grep -qv -F -x -f '$work/after3'"

"$script" --keep 0 --dir "$work/backups" >/dev/null 2>&1 && st=0 || st=$?
check "--keep 0 exits 2" test "$st" -eq 2
"$script" --keep many --dir "$work/backups" >/dev/null 2>&1 && st=0 || st=$?
check "--keep many exits 2" test "$st" -eq 2

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
