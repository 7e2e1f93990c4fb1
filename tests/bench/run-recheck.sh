#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/bench/run-recheck.sh: what the account re-check costs with many
# active users (what `make bench-recheck` runs).
#
# 10,000 users (a password database of their own, through nss_wrapper, for
# the daemon only), one token each (tokend-fill), and a VERIFY load that
# uses every token several times a second, so that every account is "in
# use" and re-checked in the background every account_recheck / 2.  After a
# warm-up of one account_recheck, it measures for another: the CPU the
# account helper used (user + system) as a share of one core, the checks
# it made per second, and the VERIFYs that had to wait or failed.  The
# PAM account phase is pam_permit: the figure is tokend's own cost (one
# pam_start and one NSS look-up per check); a stack with pam_unix adds a
# shadow read per check, LDAP or sssd their round trip.
#
# Environment: RECHECK_USERS (10000), RECHECK_SECONDS (60: account_recheck,
# also the warm-up and the measured window), BENCH_PIN (1), BENCH_KEEP=1,
# TOKEND, BENCH, FILL (binaries), TMPDIR.  Exit status 0, or 1 when the
# target (under 5% of one core) is missed or a request failed.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOKEND=${TOKEND:-$TOP/daemon/tokend}
BENCH=${BENCH:-$TOP/tests/bench/tokend-bench}
FILL=${FILL:-$TOP/tests/bench/tokend-fill}
USERS=${RECHECK_USERS:-10000}
SECS=${RECHECK_SECONDS:-60}
PIN=${BENCH_PIN:-1}

PROG=run-recheck
# shellcheck source=tests/bench/common.sh
. "$TOP/tests/bench/common.sh"
[ -x "$FILL" ] || die "$FILL not built (make tests/bench/tokend-fill)"
NSSW=$(find_module . libnss_wrapper.so) || die "libnss_wrapper.so not found (apt-get install libnss-wrapper)"
PERMIT=$(find_module security pam_permit.so) || die "pam_permit.so not found"
DENY=$(find_module security pam_deny.so) || die "pam_deny.so not found"

make_dir tokend-recheck
# tokend-fill makes user fillU for uid U, from 200000 up.
{
	echo "root:x:0:0:root:/root:/bin/sh"
	[ "$(id -u)" != 0 ] && echo "$ME:x:$(id -u):$(id -g)::/:/bin/false"
	for ((u = 200000; u < 200000 + USERS; u++)); do
		echo "fill$u:x:$u:$u::/:/bin/false"
	done
} >"$T/passwd"
{
	echo "root:x:0:"
	[ "$(id -u)" != 0 ] && echo "$(id -gn):x:$(id -g):"
} >"$T/group"
cat >"$T/pam/tokend" <<EOF
auth     required   $DENY
account  required   $PERMIT
EOF
{
	echo "max_connections = 4096"
	echo "max_connections_per_uid = 4096"
	echo "idle_timeout = 1h"
	echo "account_recheck = ${SECS}s"
	if [ "$(id -u)" != 0 ]; then
		echo "verifier_group = $(id -gn)"
		echo "admin_group = $(id -gn)"
	fi
} >"$T/tokend.conf"

"$FILL" --db "$T/db" --key-file "$T/db/hash.key" --count "$USERS" --per-user 1 \
    --sample "$USERS" >"$T/refresh.tokens" 2>"$T/fill.log" || die "tokend-fill failed: $(cat "$T/fill.log")"

export LD_PRELOAD=$NSSW NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group
start_tokend "$T"
unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
HELPER=$(pgrep -P "$DAEMON_PID" -f -- --account-helper) || die "no account helper"

status() { # status KEY
	"$TOP/client/tokenctl" --socket "$T/tokend.sock" --json status |
	    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

# One VERIFY load, all the time: warm-up (every account checked once, then
# the background re-checks start), then the measured window.
"${CLIENT[@]}" "$BENCH" --socket "$T/tokend.sock" --tokens "$T/refresh.tokens" --op verify \
    -c 4 -P 8 --duration $((2 * SECS + 5)) >"$T/bench.out" 2>&1 &
LOAD=$!
echo "$PROG: $USERS users, account_recheck = ${SECS}s; warming up for ${SECS} s"
sleep "$SECS"
H0=$(cpu_ticks "$HELPER")
D0=$(cpu_ticks "$DAEMON_PID $ENGINE_PID")
C0=$(status account_checks)
sleep "$SECS"
H1=$(cpu_ticks "$HELPER")
D1=$(cpu_ticks "$DAEMON_PID $ENGINE_PID")
C1=$(status account_checks)
REFUSED=$(status accounts_refused)
wait "$LOAD"
LOAD_RC=$?
HZ=$(getconf CLK_TCK)

"$PYTHON" - "$H0" "$H1" "$D0" "$D1" "$C0" "$C1" "$HZ" "$SECS" "$USERS" "$REFUSED" \
    "$(tail -n 1 "$T/bench.out")" <<'EOF'
import json, sys
h0, h1, d0, d1, c0, c1, hz, secs, users, refused = map(int, sys.argv[1:11])
load = json.loads(sys.argv[11])
helper = (h1 - h0) / hz / secs * 100
daemon = (d1 - d0) / hz / secs * 100
checks = (c1 - c0) / secs
print("account re-check: %d users in use, account_recheck %d s" % (users, secs))
print("  checks made:          %.0f per second (%.0f per user per account_recheck)" %
      (checks, checks * secs / users))
print("  account helper CPU:   %.2f%% of one core   (target: under 5%%)" % helper)
print("  daemon CPU (all):     %.1f%% of one core, serving %.0f VERIFY/s" % (daemon, load["ops_per_sec"]))
print("  VERIFY errors:        %d, answered inactive for a disabled account: %d" %
      (load["errors"], refused))
sys.exit(0 if helper < 5.0 and load["errors"] == 0 and refused == 0 else 1)
EOF
RC=$?
[ "$LOAD_RC" -eq 0 ] || RC=1
exit "$RC"
