#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/bench/run-load.sh: VERIFY latency idle and under load, in the same run
# (what `make bench-load` runs).
#
# The target: with 8 PAM conversations waiting for input and a client issuing
# and revoking tokens in a loop, VERIFY p99 stays within 2x of the idle
# figure (the event loop never waits on PAM, fsync or a slow client).
#
# Starts tokend in a temp dir with a password-only test PAM stack, issues
# refresh tokens and exchanges them for access tokens, then for each
# concurrency/pipelining pair runs, in rounds:
#   idle:   tokend-bench --op verify
#   loaded: the same, while churn.py holds 8 ISSUEs at their password prompt
#           and loops ISSUE -> REVOKE on another connection
# and prints the medians over the rounds, the ratio of the p99s, the churn
# rate and the daemon's write_txns over the loaded runs.  See
# tests/bench/README.md for how to read them.
#
# Environment: BENCH_SECONDS (per run, 3), BENCH_ROUNDS (3), BENCH_CONFIGS
# ("16:1 64:1", C:P pairs), BENCH_TOKENS (100), LOAD_HOLD (8, conversations
# held), BENCH_PIN (1: daemon on CPU 0, clients on CPU 1), BENCH_KEEP=1 (keep
# the temp dir), TOKEND, BENCH (binaries), TMPDIR.  Exit status: 0, or 1 when
# a run failed or had errors, the churn client failed, or a held conversation
# ended.  The p99 ratio is a measurement: it does not fail the run.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOKEND=${TOKEND:-$TOP/daemon/tokend}
BENCH=${BENCH:-$TOP/tests/bench/tokend-bench}
CHURN=$TOP/tests/bench/churn.py
SECS=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CONFIGS=${BENCH_CONFIGS:-"16:1 64:1"}
NTOKENS=${BENCH_TOKENS:-100}
HOLD=${LOAD_HOLD:-8}
PIN=${BENCH_PIN:-1}


# ---------------------------------------------------------------- prerequisites

PROG=run-load
# shellcheck source=tests/bench/common.sh
. "$TOP/tests/bench/common.sh"


# ---------------------------------------------------------------- set-up

make_dir tokend-load
# Password only: no TOTP code to replay, so the churn client can issue as
# fast as the daemon lets it.  PAM still runs in a helper per ISSUE.
cat >"$T/pam/tokend" <<EOF
auth     required   $PAM_MATRIX passdb=$T/pam/passdb
account  required   $PAM_MATRIX passdb=$T/pam/passdb
EOF
{
	echo "fail_delay_ms = 100"
	echo "max_connections = 4096"
	echo "max_connections_per_uid = 4096"
	# Live tokens: the issued ones, the held ISSUEs and the churn's one.
	echo "max_tokens_per_user = 100000"
	echo "idle_timeout = 1h"
	echo "access_default = 1h"
	# The held conversations must outlive every loaded run: pam_timeout
	# bounds each step of a conversation, and 1 h is its maximum.
	echo "pam_timeout = 1h"
	# Room for the held helpers and the churn's, none queued behind them.
	echo "max_pam_helpers = $((HOLD + 16))"
	# Without serialisation, a held conversation does not block the churn.
	echo "pam_serialize = no"
	# VERIFY needs root or the verifier group, the STATUS counters root or
	# the admin group: the caller's own group will do.
	if [ "$(id -u)" != 0 ]; then
		echo "verifier_group = $(id -gn)"
		echo "admin_group = $(id -gn)"
	fi
} >"$T/tokend.conf"

start_tokend "$T"

issue_tokens "$T" "$PASSWORD" "$OATH_KEY" "$NTOKENS"

# The counters need an admin: check once, rather than report zeros.
"$PYTHON" "$CHURN" --socket "$T/tokend.sock" --status | grep -q '"write_txns"' ||
    die "STATUS shows no counters: not an admin of this daemon"

# ---------------------------------------------------------------- runs

RESULTS=$T/results.jsonl

# tb PHASE ROUND C P: one tokend-bench VERIFY run, with the daemon's STATUS
# counters and the churn client's CPU ticks before and after it.
tb() {
	local phase=$1 r=$2 c=$3 p=$4 json s0 s1 t0 t1 k0=0 k1=0
	s0=$("${CLIENT[@]}" "$PYTHON" "$CHURN" --socket "$T/tokend.sock" --status 2>>"$T/bench.err")
	[ -n "$CHURN_PID" ] && k0=$(cpu_ticks "$CHURN_PID")
	t0=$(date +%s.%N)
	json=$("${CLIENT[@]}" "$BENCH" --socket "$T/tokend.sock" --op verify --tokens "$T/access.tokens" \
	    --connections "$c" --pipeline "$p" --duration "$SECS" --quiet 2>>"$T/bench.err" | tail -n 1)
	t1=$(date +%s.%N)
	[ -n "$CHURN_PID" ] && k1=$(cpu_ticks "$CHURN_PID")
	s1=$("${CLIENT[@]}" "$PYTHON" "$CHURN" --socket "$T/tokend.sock" --status 2>>"$T/bench.err")
	if ! printf '%s' "$json" | grep -q '"errors":0}'; then
		echo "run-load: $phase tokend-bench --op verify -c $c -P $p failed: ${json:-no output}" >&2
		FAILED=1
	fi
	# One line per run; the report takes the medians.
	"$PYTHON" -c '
import json, sys
phase, r, c, p, bench, s0, s1, t0, t1, ticks = sys.argv[1:11]
j = json.loads(bench) if bench else {"ops_per_sec": 0, "p99_us": 0, "errors": -1}
s0 = json.loads(s0) if s0 else {}
s1 = json.loads(s1) if s1 else {}
d = lambda k: s1.get(k, 0) - s0.get(k, 0)
print(json.dumps({"phase": phase, "round": int(r), "c": int(c), "p": int(p),
                  "ops": j["ops_per_sec"], "p99": j["p99_us"], "errors": j["errors"],
                  "secs": float(t1) - float(t0), "issued": d("issued"), "revoked": d("revoked"),
                  "write_txns": d("write_txns"), "pam_helpers": s1.get("pam_helpers", -1),
                  "churn_ticks": int(ticks)}))
' "$phase" "$r" "$c" "$p" "$json" "$s0" "$s1" "$t0" "$t1" $((k1 - k0)) >>"$RESULTS"
}

nconf=$(echo "$CONFIGS" | wc -w)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run-load: 2 phases x $ROUNDS rounds x $nconf configurations of ~${SECS} s" \
    "(about $((2 * ROUNDS * nconf * SECS)) s); load average $LOAD_START"

for r in $(seq "$ROUNDS"); do
	for cp in $CONFIGS; do
		tb idle "$r" "${cp%%:*}" "${cp##*:}"
	done
done
echo "run-load: idle runs done"

# The load: HOLD ISSUEs stopped at their password prompt, and the churn.
# churn.py prints "ready" once every held ISSUE has its prompt.
"${CLIENT[@]}" "$PYTHON" "$CHURN" --socket "$T/tokend.sock" --password "$PASSWORD" \
    --hold "$HOLD" --churn >"$T/churn.out" 2>"$T/churn.err" &
CHURN_PID=$!
for _ in $(seq 100); do
	grep -q '^ready' "$T/churn.out" && break
	kill -0 "$CHURN_PID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^ready' "$T/churn.out"; then
	cat "$T/churn.err" >&2
	tail -n 20 "$T/daemon.log" >&2
	die "the load did not start"
fi
sleep 1 # let the churn settle into its pace
for r in $(seq "$ROUNDS"); do
	for cp in $CONFIGS; do
		tb loaded "$r" "${cp%%:*}" "${cp##*:}"
	done
done
kill -0 "$CHURN_PID" 2>/dev/null || { FAILED=1; echo "run-load: churn.py ended early" >&2; }
kill "$CHURN_PID" 2>/dev/null
wait "$CHURN_PID"
CHURN_RC=$?
CHURN_PID=
CHURN_SUMMARY=$(tail -n 1 "$T/churn.out")
if [ "$CHURN_RC" != 0 ]; then
	echo "run-load: churn.py failed (exit $CHURN_RC): $CHURN_SUMMARY" >&2
	cat "$T/churn.err" >&2
	FAILED=1
fi
echo "run-load: loaded runs done"
kill -0 "$DAEMON_PID" 2>/dev/null || { FAILED=1; echo "run-load: tokend died" >&2; }

# ---------------------------------------------------------------- report

"$PYTHON" - "$RESULTS" "$ROUNDS" "$SECS" "$HOLD" "$CHURN_SUMMARY" \
    "$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$(nproc)" "${CLIENT[*]:+pinned: daemon on CPU 0, clients on CPU 1}" \
    "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(getconf CLK_TCK)" <<'EOF'
import json, statistics, sys
path, rounds, secs, hold, churn, rev, ncpu, pin, load0, load1, hz = sys.argv[1:12]
hold, hz = int(hold), int(hz)
rows = [json.loads(l) for l in open(path)]
churn = json.loads(churn) if churn.startswith("{") else {}
def sel(c, p, phase):
    return [r for r in rows if r["c"] == c and r["p"] == p and r["phase"] == phase]
def med(rs, f):
    v = [f(r) for r in rs]
    return statistics.median(v) if v else 0
confs = []
for r in rows:
    if (r["c"], r["p"]) not in confs:
        confs.append((r["c"], r["p"]))
print()
print("tokend %s VERIFY idle and under load, median of %s rounds x %s s, %s CPUs%s"
      % (rev, rounds, secs, ncpu, ", " + pin if pin else ""))
print("load average before: %s, after: %s (other work on the machine skews every figure)"
      % (load0, load1))
print("load: %d ISSUEs held at the password prompt + one client looping ISSUE -> REVOKE"
      % hold)
print()
hdr = ("%-9s %9s %9s %9s %9s %6s %8s %10s %5s"
       % ("conf", "idle/s", "idle p99", "loaded/s", "load p99", "ratio", "churn/s",
          "write_txns", "held"))
print(hdr)
print("-" * len(hdr))
for c, p in confs:
    idle, loaded = sel(c, p, "idle"), sel(c, p, "loaded")
    ip99, lp99 = med(idle, lambda r: r["p99"]), med(loaded, lambda r: r["p99"])
    print("%-9s %9.0f %9.0f %9.0f %9.0f %6s %8.1f %10.0f %5d" % (
        "c=%d P=%d" % (c, p), med(idle, lambda r: r["ops"]), ip99,
        med(loaded, lambda r: r["ops"]), lp99, "%.2f" % (lp99 / ip99) if ip99 else "-",
        med(loaded, lambda r: r["revoked"] / r["secs"] if r["secs"] else 0),
        med(loaded, lambda r: r["write_txns"]),
        min((r["pam_helpers"] for r in loaded), default=-1)))
loaded = [r for r in rows if r["phase"] == "loaded"]
busy = sum(r["churn_ticks"] for r in loaded) / hz
span = sum(r["secs"] for r in loaded)
errs = sum(r["errors"] for r in rows if r["errors"] > 0)
print()
print("p99 in us; ratio = loaded p99 / idle p99 (target <= 2.0); churn/s = ISSUE+REVOKE"
      " cycles per second during the loaded runs (the daemon's revoked counter);")
print("write_txns = LMDB write transactions per loaded run (each cycle commits 2);"
      " held = fewest PAM helpers alive after a loaded run (>= %d)" % hold)
print("churn client: %s cycles, %s errors in %s s, %s/%s held conversations still waiting;"
      " it used %.0f%% of a CPU during the loaded runs"
      % (churn.get("cycles", "?"), churn.get("errors", "?"), churn.get("seconds", "?"),
         churn.get("held_alive", "?"), churn.get("held", "?"),
         100 * busy / span if span else 0))
print("tokend-bench errors: %d" % errs)
EOF
exit "$FAILED"
