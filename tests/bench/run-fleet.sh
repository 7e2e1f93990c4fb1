#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/bench/run-fleet.sh: fleet mode beside the one-host store, in the
# same run (what `make bench-fleet` runs).
#
# Starts a private PostgreSQL in a temp dir (Unix socket only), one daemon
# with the LMDB store ("lmdb") and two fleet hosts ("fleet" and "fleet2")
# on that database with the same key, all with a password-only test PAM
# stack.  Issues BENCH_TOKENS refresh tokens (and an access token each) on
# "lmdb" and on "fleet", then, in rounds, for each concurrency:pipelining
# pair, tokend-bench VERIFY and EXCHANGE against "lmdb" and "fleet" back to
# back (cached answers: the target is fleet >= 0.9x lmdb); and finally
# fleet-ops.py: ISSUE and REVOKE latency on each store, the time a token
# issued on "fleet" takes to verify on "fleet2" (first sight), and the time
# a revocation on "fleet" takes to be refused on "fleet2" (propagation).
#
# Environment: BENCH_SECONDS (3), BENCH_ROUNDS (3), BENCH_CONFIGS
# ("16:1 16:16 64:1"), BENCH_TOKENS (100), FLEET_OPS (100 rounds of
# fleet-ops), BENCH_PIN (1), BENCH_KEEP=1, TOKEND, BENCH, TMPDIR.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOKEND=${TOKEND:-$TOP/daemon/tokend}
BENCH=${BENCH:-$TOP/tests/bench/tokend-bench}
SECS=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CONFIGS=${BENCH_CONFIGS:-"16:1 16:16 64:1"}
NTOKENS=${BENCH_TOKENS:-100}
NOPS=${FLEET_OPS:-100}
PIN=${BENCH_PIN:-1}

PROG=run-fleet
# shellcheck source=tests/bench/common.sh
. "$TOP/tests/bench/common.sh"

PG_BIN=$(pg_config --bindir 2>/dev/null)
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL's server programs not found (apt-get install postgresql)"
PG_AS=()
[ "$(id -u)" = 0 ] && PG_AS=(runuser -u postgres --)
HOSTS="lmdb fleet fleet2"
declare -A HPID
fleet_cleanup() {
	local h
	for h in $HOSTS; do
		[ -n "${HPID[$h]:-}" ] && kill "${HPID[$h]}" 2>/dev/null && wait "${HPID[$h]}" 2>/dev/null
	done
	[ -n "$T" ] && [ -f "$T/pg/data/postmaster.pid" ] &&
	    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$T/pg/data" -m fast -w stop >/dev/null 2>&1
	cleanup
}
trap fleet_cleanup EXIT

make_dir tokend-fleet
chmod 755 "$T"
cd /	# as postgres, a checkout in a 0700 folder is no working dir
cat >"$T/pam/tokend" <<EOF
auth     required   $PAM_MATRIX passdb=$T/pam/passdb
account  required   $PAM_MATRIX passdb=$T/pam/passdb
EOF

# ---------------------------------------------------------------- PostgreSQL

mkdir -p "$T/pg/data" "$T/pg/sock"
chmod 755 "$T/pg"
[ "$(id -u)" = 0 ] && chown postgres "$T/pg/data" "$T/pg/sock"
"${PG_AS[@]}" "$PG_BIN/initdb" -D "$T/pg/data" -A trust -U postgres >"$T/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -3 "$T/initdb.log")"
"${SERVER[@]}" "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$T/pg/data" -w -l "$T/pg/data/server.log" \
    -o "-k $T/pg/sock -c listen_addresses=''" start >/dev/null || die "PostgreSQL did not start"
psql -X -q -h "$T/pg/sock" -U postgres -c "CREATE ROLE tokend LOGIN" -c "CREATE DATABASE tokend" ||
    die "cannot create the database"
printf 'store = postgresql\npostgresql = "host=%s dbname=tokend user=postgres"\n' "$T/pg/sock" \
    >"$T/admin.conf"
"$TOKEND" --init-db -c "$T/admin.conf" >/dev/null || die "tokend --init-db failed"
psql -X -q -h "$T/pg/sock" -U postgres -d tokend \
    -c "GRANT SELECT ON tokend_tokens, tokend_log, tokend_state, tokend_schema TO tokend" \
    -c "GRANT EXECUTE ON FUNCTION tokend_issue(bigint, text, bigint, smallint, bigint, bigint, bytea, text, text, integer, bigint), tokend_revoke(bigint), tokend_revoke_user(text), tokend_rename(bigint, text, bigint), tokend_rotate(bigint, bigint, bytea, bigint, bigint, integer), tokend_unrotate(bigint, bigint), tokend_revoke_chain(bigint), tokend_last_used(bigint[], bigint[]), tokend_purge(bigint) TO tokend" ||
    die "grants failed"

# ---------------------------------------------------------------- daemons

ENGINE_USER=()
[ "$(id -u)" = 0 ] && ENGINE_USER=(--user nobody)
host_conf() { # host_conf NAME STORE
	mkdir -p "$T/$1"
	{
		echo "fail_delay_ms = 100"
		echo "max_connections = 4096"
		echo "max_connections_per_uid = 4096"
		echo "max_tokens_per_user = 100000"
		echo "idle_timeout = 1h"
		echo "access_default = 1h"
		echo "pam_serialize = no"
		if [ "$2" = postgresql ]; then
			echo "store = postgresql"
			echo "postgresql = \"host=$T/pg/sock dbname=tokend user=tokend\""
		fi
		if [ "$(id -u)" != 0 ]; then
			echo "verifier_group = $(id -gn)"
			echo "admin_group = $(id -gn)"
		fi
	} >"$T/$1/tokend.conf"
}
host_start() { # host_start NAME
	"${SERVER[@]}" "$TOKEND" -f -c "$T/$1/tokend.conf" --socket "$T/$1/tokend.sock" \
	    --db "$T/$1/db" --key-file "$T/hash.key" --pam-confdir "$T/pam" "${ENGINE_USER[@]}" \
	    >"$T/$1/daemon.log" 2>&1 &
	HPID[$1]=$!
	wait_socket "$T/$1/tokend.sock" "${HPID[$1]}" "tokend ($1)" "$T/$1/daemon.log"
}
host_conf lmdb lmdb
host_start lmdb		# first: it makes the key the fleet hosts share
host_conf fleet postgresql
host_conf fleet2 postgresql
host_start fleet
host_start fleet2
for h in fleet fleet2; do
	for _ in $(seq 100); do
		grep -q 'fleet: in touch' "$T/$h/daemon.log" && break
		sleep 0.1
	done
	grep -q 'fleet: in touch' "$T/$h/daemon.log" || die "$h never reached the database"
done
for h in lmdb fleet; do
	"$PYTHON" "$TOP/tests/bench/issue-tokens.py" --socket "$T/$h/tokend.sock" --pamdir "$T/pam" \
	    --user "$ME" --password "$PASSWORD" --key "$OATH_KEY" --count "$NTOKENS" \
	    --refresh-out "$T/$h/refresh.tokens" --access-out "$T/$h/access.tokens" ||
	    die "issuing tokens on $h failed"
done
echo "$PROG: $NTOKENS refresh and access tokens on each store"

# ---------------------------------------------------------------- cached VERIFY and EXCHANGE

RESULTS=$T/results.jsonl
: >"$RESULTS"
tb() { # tb ROUND C P HOST OP TOKENS
	local json pids
	pids="${HPID[$4]} $(engine_of "${HPID[$4]}")"
	t0=$(cpu_ticks "$pids")
	json=$("${CLIENT[@]}" "$BENCH" --socket "$T/$4/tokend.sock" --op "$5" --tokens "$6" \
	    --connections "$2" --pipeline "$3" --duration "$SECS" --quiet 2>>"$T/bench.err")
	t1=$(cpu_ticks "$pids")
	printf '%s' "$json" | grep -q '"errors":0}' || { echo "$PROG: $4 $5 failed: $json" >&2; FAILED=1; }
	printf '{"r":%s,"c":%s,"p":%s,"host":"%s","op":"%s","ticks":%s,"res":%s}\n' \
	    "$1" "$2" "$3" "$4" "$5" $((t1 - t0)) "${json:-null}" >>"$RESULTS"
}
for r in $(seq "$ROUNDS"); do
	for cp in $CONFIGS; do
		for op in verify exchange; do
			f=access
			[ $op = exchange ] && f=refresh
			# Which goes first alternates: neither always meets the
			# machine just after the other warmed it.
			if [ $((r % 2)) = 1 ]; then order="lmdb fleet"; else order="fleet lmdb"; fi
			for h in $order; do
				tb "$r" "${cp%%:*}" "${cp##*:}" $h $op "$T/$h/$f.tokens"
			done
		done
	done
	echo "$PROG: round $r of $ROUNDS done"
done

# ---------------------------------------------------------------- writes and propagation

OPS_LMDB=$("$PYTHON" "$TOP/tests/bench/fleet-ops.py" --socket "$T/lmdb/tokend.sock" \
    --password "$PASSWORD" --count "$NOPS") || FAILED=1
OPS_FLEET=$("$PYTHON" "$TOP/tests/bench/fleet-ops.py" --socket "$T/fleet/tokend.sock" \
    --other "$T/fleet2/tokend.sock" --password "$PASSWORD" --count "$NOPS") || FAILED=1

"$PYTHON" - "$RESULTS" "$ROUNDS" "$SECS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$(getconf CLK_TCK)" "$OPS_LMDB" "$OPS_FLEET" <<'EOF'
import json, statistics, sys
path, rounds, secs, ncpu, load, rev, hz, ops_l, ops_f = sys.argv[1:10]
rows = [json.loads(l) for l in open(path)]
def med(c, p, host, op, f):
    v = [f(r) for r in rows if (r["c"], r["p"], r["host"], r["op"]) == (c, p, host, op) and r["res"]]
    return statistics.median(v) if v else 0
confs = []
for r in rows:
    if (r["c"], r["p"]) not in confs:
        confs.append((r["c"], r["p"]))
print()
print("tokend %s: fleet (PostgreSQL) vs one host (LMDB), cached answers, median of %s rounds x %s s, "
      "%s CPUs, load %s" % (rev, rounds, secs, ncpu, load))
print("%-10s %-9s %12s %12s %6s %10s %10s %16s" % ("conf", "op", "lmdb/s", "fleet/s", "ratio",
      "p99 lmdb", "p99 fleet", "CPU us/op l/f"))
print("-" * 92)
for c, p in confs:
    for op in ("verify", "exchange"):
        ol = med(c, p, "lmdb", op, lambda r: r["res"]["ops_per_sec"])
        of = med(c, p, "fleet", op, lambda r: r["res"]["ops_per_sec"])
        pl = med(c, p, "lmdb", op, lambda r: r["res"]["p99_us"])
        pf = med(c, p, "fleet", op, lambda r: r["res"]["p99_us"])
        cl = med(c, p, "lmdb", op, lambda r: r["ticks"] / float(hz) * 1e6 / max(1, r["res"]["ops_per_sec"] * float(secs)))
        cf = med(c, p, "fleet", op, lambda r: r["ticks"] / float(hz) * 1e6 / max(1, r["res"]["ops_per_sec"] * float(secs)))
        print("%-10s %-9s %12.0f %12.0f %6.2f %8.0fus %8.0fus %8.2f/%-7.2f" % (
            "c=%d P=%d" % (c, p), op, ol, of, of / ol if ol else 0, pl, pf, cl, cf))
print()
l, f = json.loads(ops_l), json.loads(ops_f)
def line(name, s):
    return "%-34s %s" % (name, "p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (n=%d)" % (
        s["p50_ms"], s["p99_ms"], s["max_ms"], s["n"]) if s else "-")
print(line("ISSUE, one host (PAM + LMDB)", l["issue"]))
print(line("ISSUE, fleet (PAM + PostgreSQL)", f["issue"]))
print(line("REVOKE, one host", l["revoke"]))
print(line("REVOKE, fleet", f["revoke"]))
print(line("first sight on another host", f["first_sight"]))
print(line("revocation seen on another host", f["propagation"]))
EOF
[ "$FAILED" = 0 ] || { echo "$PROG: some runs failed (see above)" >&2; exit 1; }
