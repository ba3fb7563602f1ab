#!/bin/sh
# Run every unit-test binary; print one total line; fail if any failed.
passed=0 failed=0 skipped=0 status=0
for t in "$@"; do
	out=$("$t") || status=1
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | tail -n 1)
	p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
	k=$(printf '%s' "$line" | sed -n 's/.*, \([0-9]*\) skipped.*/\1/p')
	[ -n "$p" ] || { echo "$t: no result line"; status=1; continue; }
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${k:-0}))
done
echo "unit: $passed passed, $failed failed, $skipped skipped"
exit $status
