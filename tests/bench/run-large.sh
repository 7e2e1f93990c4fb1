#!/bin/bash
# SPDX-License-Identifier: ISC
# make bench-large: VERIFY with a million refresh tokens in the store against
# the same with a thousand, in the same run (the target is a ratio >= 0.9),
# once with answer_cache = no (every VERIFY reads LMDB) and once with the
# cache; then the daemon's RSS with the million and 1,000 idle connections,
# and the CPU time those idle connections cost over a few seconds.
#
# Records are written with tokend-fill (no PAM).  Environment:
# LARGE_COUNT (1000000), SMALL_COUNT (1000), BENCH_SECONDS (3), BENCH_ROUNDS (3),
# IDLE_CONNS (1000), BENCH_KEEP=1.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TOKEND=$TOP/daemon/tokend
BENCH=$TOP/tests/bench/tokend-bench
FILL=$TOP/tests/bench/tokend-fill
LARGE=${LARGE_COUNT:-1000000}
SMALL=${SMALL_COUNT:-1000}
SECS=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
IDLE=${IDLE_CONNS:-1000}
T=$(mktemp -d "${TMPDIR:-/tmp}/tokend-large.XXXXXX")
PID=
ENGINE=
PIDS=()
cleanup() {
	[ "${#PIDS[@]}" -gt 0 ] && kill -9 "${PIDS[@]}" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
for b in "$TOKEND" "$BENCH" "$FILL"; do
	[ -x "$b" ] || { echo "run-large: $b not built (make)" >&2; exit 1; }
done
ulimit -n 8192 2>/dev/null
# The users tokend-fill invents exist nowhere, so the account re-check would
# refuse their tokens: this measures the store (bench-recheck measures that).
printf 'max_connections = 4096\nmax_connections_per_uid = 4096\nidle_timeout = 1h\naccount_recheck = 0\n' >"$T/conf"
# The same without the answer cache: every VERIFY reads LMDB.
{ cat "$T/conf"; echo "answer_cache = no"; } >"$T/conf-nocache"

# shellcheck source=tests/bench/engine.sh
. "$TOP/tests/bench/engine.sh"

PIN_D=()
PIN_C=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN_D=(taskset -c 0)	# daemons on CPU 0, the client on CPU 1
	PIN_C=(taskset -c 1)
fi

start() { # start DIR CONF: sets PID (the monitor) and ENGINE
	"${PIN_D[@]}" "$TOKEND" -f -c "$2" --socket "$1/sock" --db "$1/db" \
	    --key-file "$1/hash.key" --pam-confdir "$T" "${ENGINE_USER[@]}" 2>>"$1/log" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		[ -S "$1/sock" ] && { ENGINE=$(engine_of "$PID"); return 0; }
		sleep 0.1
	done
	echo "run-large: daemon did not start" >&2; cat "$1/log" >&2; exit 1
}
stop_all() {
	[ "${#PIDS[@]}" -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null
	wait 2>/dev/null
	PIDS=()
	PID=
}
one() { # one DIR -> ops/s of one run at c=16 P=16 (0 on errors)
	"${PIN_C[@]}" "$BENCH" --socket "$1/sock" --op verify --tokens "$1/tokens" \
	    --connections 16 --pipeline 16 --duration "$SECS" --quiet |
	    tail -n 1 | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["ops_per_sec"] if j["errors"] == 0 else 0)'
}
# compare CONF LABEL: both stores served at once, runs alternating small and
# large, so that both see the same weather; prints the medians and the
# median of the per-round ratios.
compare() {
	local _
	start "$T/$SMALL" "$1"
	start "$T/$LARGE" "$1"
	for _ in $(seq "$ROUNDS"); do
		echo "$(one "$T/$SMALL") $(one "$T/$LARGE")"
	done | python3 -c '
import statistics, sys
rows = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
s = statistics.median(r[0] for r in rows)
l = statistics.median(r[1] for r in rows)
q = statistics.median(r[1] / r[0] if r[0] else 0 for r in rows)
print(f"verify c=16 P=16, {sys.argv[1]}: {s:.0f}/s with {sys.argv[2]} tokens, "
      f"{l:.0f}/s with {sys.argv[3]}: ratio {q:.2f} (target >= 0.9)")
' "$2" "$SMALL" "$LARGE"
	stop_all
}

for n in "$SMALL" "$LARGE"; do
	mkdir -p "$T/$n"
	start_fill=$(date +%s)
	"$FILL" --db "$T/$n/db" --key-file "$T/$n/hash.key" --count "$n" \
	    --sample 1000 >"$T/$n/tokens" 2>>"$T/$n/log" || { cat "$T/$n/log"; exit 1; }
	echo "filled $n tokens in $(( $(date +%s) - start_fill )) s"
done

compare "$T/conf-nocache" "answer_cache = no "
compare "$T/conf" "answer_cache = yes"

# RSS with the large store (after a run, so its pages and the cache are in
# use) and IDLE idle connections; the CPU time they cost.
start "$T/$LARGE" "$T/conf"
one "$T/$LARGE" >/dev/null
python3 - "$T/$LARGE/sock" "$IDLE" "$ENGINE" <<'PY'
import socket, sys, time
path, n, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX); s.connect(path); socks.append(s)
time.sleep(1)
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])
c0 = cpu(); time.sleep(5); c1 = cpu()
print(f"rss_kb={rss()} idle_cpu_ticks_5s={c1 - c0} idle_conns={len(socks)}")
PY
stop_all
