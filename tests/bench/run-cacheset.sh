#!/bin/bash
# SPDX-License-Identifier: ISC
# make bench-cacheset: how many VERIFYs the answer cache answers when the
# services check a working set of WORKSET distinct live tokens (100,000),
# round-robin, with the default answer_cache_size and with the old size
# (4096) in the same run.  The hit rate is verified_cached over
# verified_active (STATUS) during a warm run that follows a first pass;
# the target is 95% or more with the default.  Also the engine's RSS with
# the cache full.
#
# Records come from tokend-fill (no PAM).  Environment: WORKSET (100000),
# BENCH_SECONDS (5), BENCH_KEEP=1.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TOKEND=$TOP/daemon/tokend
BENCH=$TOP/tests/bench/tokend-bench
FILL=$TOP/tests/bench/tokend-fill
N=${WORKSET:-100000}
SECS=${BENCH_SECONDS:-5}
T=$(mktemp -d "${TMPDIR:-/tmp}/tokend-cacheset.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
for b in "$TOKEND" "$BENCH" "$FILL"; do
	[ -x "$b" ] || { echo "run-cacheset: $b not built (make)" >&2; exit 1; }
done
# shellcheck source=tests/bench/engine.sh
. "$TOP/tests/bench/engine.sh"

"$FILL" --db "$T/db" --key-file "$T/hash.key" --count "$N" --sample "$N" >"$T/tokens" \
    2>>"$T/log" || { cat "$T/log"; exit 1; }

status() {
	python3 "$TOP/tests/bench/churn.py" --socket "$T/sock" --status
}
measure() { # measure LABEL SIZE
	printf 'max_connections = 4096\nmax_connections_per_uid = 4096\nidle_timeout = 1h\naccount_recheck = 0\nanswer_cache_size = %s\n' "$2" >"$T/conf"
	rm -f "$T/sock"
	"$TOKEND" -f -c "$T/conf" --socket "$T/sock" --db "$T/db" --key-file "$T/hash.key" \
	    --pam-confdir "$T" "${ENGINE_USER[@]}" 2>>"$T/log" &
	PID=$!
	for _ in $(seq 100); do [ -S "$T/sock" ] && break; sleep 0.1; done
	# A first pass puts every token in the cache it can; then the warm run.
	"$BENCH" --socket "$T/sock" --op verify --tokens "$T/tokens" --connections 16 \
	    --pipeline 16 --duration "$SECS" --quiet >/dev/null
	s0=$(status)
	out=$("$BENCH" --socket "$T/sock" --op verify --tokens "$T/tokens" --connections 16 \
	    --pipeline 16 --duration "$SECS" --quiet)
	s1=$(status)
	rss=$(awk '/VmRSS/ { print $2 }' "/proc/$(engine_of "$PID")/status")
	python3 - "$1" "$2" "$N" "$s0" "$s1" "$out" "$rss" <<'EOF'
import json, sys
label, size, n, s0, s1, out, rss = sys.argv[1:8]
a, b, o = json.loads(s0), json.loads(s1), json.loads(out)
act = b["verified_active"] - a["verified_active"]
hit = b["verified_cached"] - a["verified_cached"]
print("%-8s answer_cache_size %8s, %s tokens: %5.1f%% of %d VERIFYs from the cache, "
      "%.0f/s, engine RSS %.0f MB" % (label, size, n, 100.0 * hit / act if act else 0, act,
      o["ops_per_sec"], int(rss) / 1024))
EOF
	kill "$PID"
	wait "$PID" 2>/dev/null
	PID=
}
measure old 4096
measure default 262144
