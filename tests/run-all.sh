#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs the unit test binaries given as arguments, then every
# tests/regress/t_*.sh, and adds up their "NAME: N passed, M failed" lines.
# The last line is always "total: N passed, M failed"; the exit status is
# non-zero when anything failed.  A program that exits non-zero without
# reporting a failure (a crash, a timeout) counts as one failed test.
#
# The regression scripts run CHECK_JOBS at a time (default 3): each has its
# own daemon, socket and folder, and most of their time is spent waiting for
# the daemon.  Their output is shown whole, in name order, once all ended.
#
#   sh tests/run-all.sh [UNIT_TEST...]
#   REGRESS='t_issue t_token' sh tests/run-all.sh   only these scripts
#   SUITE_TIMEOUT=120                                 seconds per program
#   CHECK_JOBS=1                                      one script at a time

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
SUITE_TIMEOUT=${SUITE_TIMEOUT:-120}
CHECK_JOBS=${CHECK_JOBS:-3}

total_passed=0
total_failed=0
total_skipped=0
broken=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokend-run-all.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# run_to NAME CMD...: run CMD, its output to $tmp/NAME.out, status to $tmp/NAME.rc.
run_to() {
	name=$1
	shift
	timeout -k 5 "$SUITE_TIMEOUT" "$@" >"$tmp/$name.out" 2>&1
	echo $? >"$tmp/$name.rc"
}

# tally LABEL NAME: show NAME's output, add up its summary lines.
tally() {
	label=$1
	cat "$tmp/$2.out"
	rc=$(cat "$tmp/$2.rc")
	sums=$(sed -n 's/^[^ ]*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p' "$tmp/$2.out")
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
	k=$(sed -n 's/^[^ ]*: \([0-9][0-9]*\) skipped (needs root)$/\1/p' "$tmp/$2.out" | awk '{ s += $1 } END { print s + 0 }')
	total_skipped=$((total_skipped + k))
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
}

n=0
for t in "$@"; do
	n=$((n + 1))
	if [ ! -x "$t" ]; then
		echo "$t: not built (counted as 1 failed)"
		total_failed=$((total_failed + 1))
		broken="$broken $t"
		continue
	fi
	case $t in
	/*) run_to "unit$n" "$t" ;;
	*) run_to "unit$n" "./$t" ;;
	esac
	tally "$t" "unit$n"
done

# The scripts, CHECK_JOBS at a time.
names=
for t in tests/regress/t_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ -n "${REGRESS:-}" ]; then
		case " $REGRESS " in
		*" $name "*) ;;
		*) continue ;;
		esac
	fi
	names="$names $name"
done
running=0
for name in $names; do
	while [ "$running" -ge "$CHECK_JOBS" ]; do
		# Wait for any one to end: its .rc appears.
		running=0
		for r in $names; do
			[ -e "$tmp/$r.started" ] && [ ! -e "$tmp/$r.rc" ] && running=$((running + 1))
		done
		[ "$running" -ge "$CHECK_JOBS" ] && sleep 0.2
	done
	: >"$tmp/$name.started"
	run_to "$name" bash "tests/regress/$name.sh" &
	running=$((running + 1))
done
wait
for name in $names; do
	tally "$name" "$name"
done

[ "$total_skipped" -gt 0 ] && echo "skipped: $total_skipped (need root; not counted)"
[ -n "$broken" ] && echo "broken:$broken"
echo "total: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
