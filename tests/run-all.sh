#!/bin/sh
# Runs the unit test binaries given as arguments, then every
# tests/regress/t_*.sh, and adds up their "NAME: N passed, M failed" lines.
# The last line is always "total: N passed, M failed"; the exit status is
# non-zero when anything failed.  A program that exits non-zero without
# reporting a failure (a crash, a timeout) counts as one failed test.
#
#   sh tests/run-all.sh [UNIT_TEST...]
#   REGRESS='t_issue t_token' sh tests/run-all.sh   only these scripts
#   SUITE_TIMEOUT=120                                 seconds per program

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
SUITE_TIMEOUT=${SUITE_TIMEOUT:-120}

total_passed=0
total_failed=0
total_skipped=0
broken=
tmp=$(mktemp "${TMPDIR:-/tmp}/tokend-run-all.XXXXXX") || exit 1
trap 'rm -f "$tmp" "$tmp.rc"' EXIT
trap 'exit 130' INT TERM

# run_one LABEL CMD...: run, show its output, add up its summary lines.
run_one() {
	label=$1
	shift
	{ timeout -k 5 "$SUITE_TIMEOUT" "$@" 2>&1; echo $? >"$tmp.rc"; } | tee "$tmp"
	rc=$(cat "$tmp.rc")
	sums=$(sed -n 's/^[^ ]*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' "$tmp")
	p=0
	f=0
	if [ -n "$sums" ]; then
		p=$(echo "$sums" | awk '{ s += $1 } END { print s + 0 }')
		f=$(echo "$sums" | awk '{ s += $2 } END { print s + 0 }')
	fi
	if [ -z "$sums" ]; then
		echo "$label: exited with status $rc without a summary line (counted as 1 failed)"
		f=$((f + 1))
		broken="$broken $label"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "$label: timed out after ${SUITE_TIMEOUT}s (counted as 1 failed)"
		else
			echo "$label: exited with status $rc but reported no failure (counted as 1 failed)"
		fi
		f=1
		broken="$broken $label"
	fi
	k=$(sed -n 's/^[^ ]*: \([0-9][0-9]*\) skipped (needs root)$/\1/p' "$tmp" | awk '{ s += $1 } END { print s + 0 }')
	total_skipped=$((total_skipped + k))
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
}

for t in "$@"; do
	if [ ! -x "$t" ]; then
		echo "$t: not built (counted as 1 failed)"
		total_failed=$((total_failed + 1))
		broken="$broken $t"
		continue
	fi
	case $t in
	/*) run_one "$t" "$t" ;;
	*) run_one "$t" "./$t" ;;
	esac
done

for t in tests/regress/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ -n "${REGRESS:-}" ]; then
		case " $REGRESS " in
		*" $name "*) ;;
		*) continue ;;
		esac
	fi
	run_one "$name" bash "$t"
done

[ "$total_skipped" -gt 0 ] && echo "skipped: $total_skipped (need root; not counted)"
[ -n "$broken" ] && echo "broken:$broken"
echo "total: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
