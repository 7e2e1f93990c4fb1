#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/bench/run-bench.sh: tokend's VERIFY and EXCHANGE beside redis GET,
# on the same machine, in the same run (what `make bench` runs).
#
# Starts tokend and redis-server in a temp dir, issues refresh tokens through
# a test PAM stack (password + TOTP) and exchanges them for access tokens,
# then for each concurrency/pipelining pair runs, in rounds:
#   redis-benchmark -s REDIS -t get -c C -P P      (the reference of issue 6)
#   tokend-bench --op redis-get                    (redis again, through our client)
#   tokend-bench --op verify   (access tokens)
#   tokend-bench --op exchange (refresh tokens)
# and prints the medians over the rounds with ratios tokend/redis.  See
# tests/bench/README.md for how to read them.
#
# Environment: BENCH_SECONDS (per run, 3), BENCH_ROUNDS (3), BENCH_CONFIGS
# ("16:1 16:16 64:1", C:P pairs), BENCH_TOKENS (100), BENCH_PIN (1: servers on
# CPU 0, clients on CPU 1), BENCH_KEEP=1 (keep the temp dir), TOKEND, BENCH
# (binaries), TMPDIR.  Exit status: 0, or 1 when a run failed or had errors.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOKEND=${TOKEND:-$TOP/daemon/tokend}
BENCH=${BENCH:-$TOP/tests/bench/tokend-bench}
SECS=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CONFIGS=${BENCH_CONFIGS:-"16:1 16:16 64:1"}
NTOKENS=${BENCH_TOKENS:-100}
PIN=${BENCH_PIN:-1}


# ---------------------------------------------------------------- prerequisites

PROG=run-bench
# shellcheck source=tests/bench/common.sh
. "$TOP/tests/bench/common.sh"
for p in redis-server redis-benchmark redis-cli; do
	command -v $p >/dev/null || die "$p not found (apt-get install redis-server redis-tools)"
done
PAM_OATH=$(find_module security pam_oath.so) || die "pam_oath.so not found (apt-get install libpam-oath)"


# ---------------------------------------------------------------- set-up

make_dir tokend-bench
cat >"$T/pam/tokend" <<EOF
auth     requisite  $PAM_MATRIX passdb=$T/pam/passdb
auth     required   $PAM_OATH usersfile=$T/pam/users.oath window=3 digits=6
account  required   $PAM_MATRIX passdb=$T/pam/passdb
EOF
{
	echo "fail_delay_ms = 100"
	echo "max_connections = 4096"
	echo "max_connections_per_uid = 4096"
	echo "max_tokens_per_user = $((NTOKENS + 10))"
	echo "idle_timeout = 1h"
	echo "access_default = 1h"
	echo "pam_serialize = yes"
	# VERIFY needs root or the verifier group: the caller's own group will do.
	# STATUS counters need root or the admin group: likewise.
	if [ "$(id -u)" != 0 ]; then
		echo "verifier_group = $(id -gn)"
		echo "admin_group = $(id -gn)"
	fi
} >"$T/tokend.conf"

start_tokend "$T"

"${SERVER[@]}" redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$T" --logfile "$T/redis.log" --daemonize no &
REDIS_PID=$!
wait_socket "$T/redis.sock" "$REDIS_PID" redis-server "$T/redis.log"
# The key redis-benchmark -t get asks for, so that every GET is a hit.
redis-cli -s "$T/redis.sock" set key:__rand_int__ xxx >/dev/null || die "redis-cli set failed"

issue_tokens "$T" "$PASSWORD" "$OATH_KEY" "$NTOKENS"

# ---------------------------------------------------------------- runs

HZ=$(getconf CLK_TCK)
RESULTS=$T/results.jsonl

# record ROUND C P WHAT OPS_PER_SEC P99_US ERRORS TICKS OPS
record() {
	echo "{\"round\":$1,\"c\":$2,\"p\":$3,\"what\":\"$4\",\"ops\":$5,\"p99\":$6," \
	    "\"errors\":$7,\"cpu_us_op\":$(awk -v t="$8" -v n="$9" -v hz="$HZ" \
	    'BEGIN { printf "%.3f", (n > 0 ? t * 1e6 / hz / n : 0) }')}" >>"$RESULTS"
}

# tb ROUND C P OP TOKENS "PID...": one tokend-bench run against the server
# whose processes are PID...
tb() {
	local r=$1 c=$2 p=$3 op=$4 tokens=$5 pid=$6 sock json t0 t1 args
	sock=$T/tokend.sock
	args=(--tokens "$tokens")
	if [ "$op" = redis-get ]; then sock=$T/redis.sock; args=(); fi
	t0=$(cpu_ticks "$pid")
	json=$("${CLIENT[@]}" "$BENCH" --socket "$sock" --op "$op" "${args[@]}" \
	    --connections "$c" --pipeline "$p" --duration "$SECS" --quiet 2>>"$T/bench.err" | tail -n 1)
	t1=$(cpu_ticks "$pid")
	if ! printf '%s' "$json" | grep -q '"errors":0}'; then
		echo "run-bench: tokend-bench --op $op -c $c -P $p failed: ${json:-no output}" >&2
		FAILED=1
	fi
	"$PYTHON" -c '
import json, sys
j = json.loads(sys.argv[1]) if sys.argv[1] else {"ops_per_sec": 0, "p99_us": 0, "errors": -1}
print(j["ops_per_sec"], j["p99_us"], j["errors"], round(j["ops_per_sec"] * float(sys.argv[2])))
' "$json" "$SECS" | {
		read -r ops p99 errors n
		record "$r" "$c" "$p" "$op" "$ops" "$p99" "$errors" $((t1 - t0)) "$n"
	}
}

# redis_benchmark C P N: prints the CSV line of GET.
redis_benchmark() {
	"${CLIENT[@]}" redis-benchmark -s "$T/redis.sock" -t get -c "$1" -P "$2" -n "$3" \
	    --csv 2>>"$T/bench.err" | grep '^"GET"'
}

# redis-benchmark takes a request count, not a duration: a short probe sets
# the count that lasts about SECS (and is updated after every run).
declare -A REDIS_N
redis_calibrate() { # redis_calibrate C P
	local n=$(($1 * $2 * 200)) rps
	[ "$n" -lt 10000 ] && n=10000
	rps=$(redis_benchmark "$1" "$2" "$n" | cut -d'"' -f4)
	REDIS_N[$1:$2]=$(awk -v r="${rps:-0}" -v s="$SECS" 'BEGIN { n = int(r * s); print n < 10000 ? 10000 : n }')
}

# rb ROUND C P: one redis-benchmark run, about SECS long.
rb() {
	local r=$1 c=$2 p=$3 n line t0 t1 rps p99
	n=${REDIS_N[$c:$p]}
	t0=$(cpu_ticks "$REDIS_PID")
	line=$(redis_benchmark "$c" "$p" "$n")
	t1=$(cpu_ticks "$REDIS_PID")
	rps=$(printf '%s' "$line" | cut -d'"' -f4)
	p99=$(printf '%s' "$line" | cut -d'"' -f14)
	if [ -z "$rps" ]; then
		echo "run-bench: redis-benchmark -c $c -P $p failed" >&2
		FAILED=1
		return
	fi
	record "$r" "$c" "$p" redis-benchmark "$rps" "$(awk -v v="$p99" 'BEGIN { print v * 1000 }')" \
	    0 $((t1 - t0)) "$n"
	REDIS_N[$c:$p]=$(awk -v r="$rps" -v s="$SECS" 'BEGIN { n = int(r * s); print n < 10000 ? 10000 : n }')
}

nconf=$(echo "$CONFIGS" | wc -w)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run-bench: $ROUNDS rounds x $nconf configurations x 4 runs of ~${SECS} s" \
    "(about $((ROUNDS * nconf * 4 * SECS)) s); load average $LOAD_START"
for cp in $CONFIGS; do
	redis_calibrate "${cp%%:*}" "${cp##*:}"
done
# The daemon's counters around all the runs: what VERIFY and EXCHANGE wrote.
status() {
	"$PYTHON" "$TOP/tests/bench/churn.py" --socket "$T/tokend.sock" --status 2>>"$T/bench.err"
}
STATUS0=$(status)
for r in $(seq "$ROUNDS"); do
	for cp in $CONFIGS; do
		c=${cp%%:*}
		p=${cp##*:}
		rb "$r" "$c" "$p"
		tb "$r" "$c" "$p" redis-get "" "$REDIS_PID"
		tb "$r" "$c" "$p" verify "$T/access.tokens" "$DAEMON_PID $ENGINE_PID"
		tb "$r" "$c" "$p" exchange "$T/refresh.tokens" "$DAEMON_PID $ENGINE_PID"
	done
	echo "run-bench: round $r of $ROUNDS done"
done
kill -0 "$DAEMON_PID" 2>/dev/null || { FAILED=1; echo "run-bench: tokend died" >&2; }
STATUS1=$(status)

# ---------------------------------------------------------------- report

"$PYTHON" - "$RESULTS" "$ROUNDS" "$SECS" "$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
    "$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$(nproc)" "${CLIENT[*]:+pinned: servers on CPU 0, clients on CPU 1}" \
    "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$STATUS0" "$STATUS1" <<'EOF'
import json, statistics, sys
path, rounds, secs, rver, rev, ncpu, pin, load0, load1, st0, st1 = sys.argv[1:12]
rows = [json.loads(l) for l in open(path)]
def med(c, p, what, key):
    v = [r[key] for r in rows if r["c"] == c and r["p"] == p and r["what"] == what]
    return statistics.median(v) if v else 0
confs = []
for r in rows:
    if (r["c"], r["p"]) not in confs:
        confs.append((r["c"], r["p"]))
def ratio(a, b):
    return "%.2f" % (a / b) if b else "-"
print()
print("tokend %s vs redis %s GET, median of %s rounds x %s s, %s CPUs%s"
      % (rev, rver, rounds, secs, ncpu, ", " + pin if pin else ""))
print("load average before: %s, after: %s (other work on the machine skews every figure)"
      % (load0, load1))
print("ratio = tokend ops/s / redis ops/s (>= 1.0 is the target); "
      "redis-bm = redis-benchmark, redis-tb = redis through tokend-bench")
print()
hdr = ("%-10s %-9s %10s %10s %6s %10s %6s   %-19s %-15s"
       % ("conf", "op", "tokend/s", "redis-bm/s", "ratio", "redis-tb/s", "ratio",
          "p99 us tokend/tb/bm", "CPU us/op td/tb"))
print(hdr)
print("-" * len(hdr))
for c, p in confs:
    bm = med(c, p, "redis-benchmark", "ops")
    tb = med(c, p, "redis-get", "ops")
    for op in ("verify", "exchange"):
        ops = med(c, p, op, "ops")
        print("%-10s %-9s %10.0f %10.0f %6s %10.0f %6s   %-19s %-15s" % (
            "c=%d P=%d" % (c, p), op, ops, bm, ratio(ops, bm), tb, ratio(ops, tb),
            "%.0f/%.0f/%.0f" % (med(c, p, op, "p99"), med(c, p, "redis-get", "p99"),
                                med(c, p, "redis-benchmark", "p99")),
            "%.2f/%.2f" % (med(c, p, op, "cpu_us_op"), med(c, p, "redis-get", "cpu_us_op"))))
errs = sum(r["errors"] for r in rows if r["what"] in ("verify", "exchange") and r["errors"] > 0)
print()
try:
    s0, s1 = json.loads(st0), json.loads(st1)
    d = lambda k: s1.get(k, 0) - s0.get(k, 0)
    print("writes during the runs: %d LMDB write transactions for %d VERIFY and %d EXCHANGE requests"
          " (VERIFY and EXCHANGE write nothing; last-used times are saved once a minute)"
          % (d("write_txns"), d("requests_VERIFY"), d("requests_EXCHANGE")))
except ValueError:
    print("writes during the runs: unknown (no STATUS counters)")
print("targets (issue 6): ratio >= 1.0 at c=16 P=1 and c=16 P=16; p99 <= 1000 us at c=64;"
      " tokend-bench errors: %d" % errs)
EOF
exit "$FAILED"
