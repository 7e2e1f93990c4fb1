#!/bin/sh
# SPDX-License-Identifier: ISC
# run.sh SECONDS TARGET...: for each target, replay its seed corpus and its
# past crashes (regress/<target>/), then, when SECONDS > 0, fuzz it for that
# long.  New inputs go to build/corpus-<target>/ (the committed corpus is
# only read), crashes to build/artifacts/<target>/, the whole libFuzzer
# output to build/<target>.log; one summary line per target.  Exit status 1
# if any target crashed.  `make fuzz` calls this after building.
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=$1
shift
fz=tests/fuzz
b=$fz/build
status=0

for t in "$@"; do
	case $t in
	fuzz_frame)	opts="-max_len=32768 -dict=$fz/proto.dict" ;;
	fuzz_response)	opts="-max_len=70000 -dict=$fz/proto.dict" ;;
	fuzz_token)	opts="-max_len=256 -dict=$fz/token.dict" ;;
	fuzz_config)	opts="-max_len=10000 -dict=$fz/config.dict" ;;
	fuzz_monitor)	opts="-max_len=4096 -dict=$fz/monitor.dict" ;;
	*)		echo "run.sh: unknown target $t" >&2; exit 2 ;;
	esac
	opts="$opts -timeout=10 -rss_limit_mb=2048"
	bin=$b/$t
	mkdir -p "$b/corpus-$t" "$b/artifacts/$t"

	# Every seed and every past crash, once.
	dirs=$fz/corpus/$t
	[ -d "$fz/regress/$t" ] && dirs="$dirs $fz/regress/$t"
	# shellcheck disable=SC2086
	if ! "$bin" $opts -runs=0 $dirs > "$b/$t-replay.log" 2>&1; then
		echo "$t: FAILED on the seed or regression inputs, see $b/$t-replay.log"
		status=1
		continue
	fi
	if [ "$secs" -le 0 ]; then
		# shellcheck disable=SC2086
		n=$(find $dirs -type f | wc -l)
		echo "$t: $n seed and regression inputs replayed, ok"
		continue
	fi

	# shellcheck disable=SC2086
	"$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
	    -artifact_prefix="$b/artifacts/$t/" "$b/corpus-$t" "$fz/corpus/$t" \
	    > "$b/$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/$t.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$b/$t.log")
	last=$(grep -E '^#[0-9]+' "$b/$t.log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
	files=$(find "$b/corpus-$t" -type f | wc -l)
	if [ $rc -ne 0 ]; then
		echo "$t: CRASH after ${execs:-?} execs, see $b/$t.log and $b/artifacts/$t/"
		status=1
	else
		echo "$t: ${secs}s, $execs execs, $rate exec/s, cov $cov, ft $ft," \
		    "corpus $corp (units/bytes), $files files in $b/corpus-$t"
	fi
done
exit $status
