# shellcheck shell=bash disable=SC2034  # sourced: the scripts use what it sets
# SPDX-License-Identifier: ISC
# tests/bench/common.sh: what run-bench.sh and run-load.sh share.  Sourced
# after the script sets PROG (its name in messages) and PIN; it finds the
# test PAM modules and sets SERVER/CLIENT (taskset prefixes), PYTHON and ME.

T=
DAEMON_PID=
REDIS_PID=
CHURN_PID=
FAILED=0

# Stops what the scripts started (whichever of these they set) and removes
# the temp dir T unless BENCH_KEEP=1.
cleanup() {
	local p
	for p in "$CHURN_PID" "$DAEMON_PID" "$REDIS_PID"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -n "$T" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	elif [ -n "$T" ]; then
		echo "$PROG: kept $T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -x /usr/bin/python3 ]; then PYTHON=${PYTHON:-/usr/bin/python3}; else PYTHON=${PYTHON:-python3}; fi
ME=$(id -un)

die() {
	echo "$PROG: $*" >&2
	exit 1
}

MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)
find_module() { # find_module SUBDIR NAME
	local d
	for d in "/lib/$MA/$1" "/usr/lib/$MA/$1" "/lib/$1" "/usr/lib/$1"; do
		[ -f "$d/$2" ] && { echo "$d/$2"; return 0; }
	done
	return 1
}
[ -x "$TOKEND" ] || die "$TOKEND not built (make)"
[ -x "$BENCH" ] || die "$BENCH not built (make tests/bench/tokend-bench)"
PAM_MATRIX=$(find_module pam_wrapper pam_matrix.so) || die "pam_matrix.so not found (apt-get install libpam-wrapper)"

# Servers on CPU 0, clients on CPU 1 (PIN=1), so that both sides of every
# measurement see the same split.
CLIENT=()
SERVER=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	SERVER=(taskset -c 0)
	CLIENT=(taskset -c 1)
fi

# The test user's password in the pam_matrix passdb, and the TOTP key
# issue-tokens.py answers with (unused by a password-only stack).
PASSWORD='bench password 1'
OATH_KEY=3132333435363738393031323334353637383930

# make_dir NAME: the temp dir T with db/ and pam/ (passdb for the caller,
# an empty "other" service); the script writes pam/tokend and tokend.conf.
make_dir() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
	mkdir -p "$T/db" "$T/pam"
	: >"$T/pam/other"
	echo "$ME:$PASSWORD:tokend" >"$T/pam/passdb"
	chmod 600 "$T/pam/passdb"
}

wait_socket() { # wait_socket PATH PID NAME LOG
	local _
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || { tail -n 20 "$4" >&2; die "$3 exited at start"; }
		sleep 0.1
	done
	tail -n 20 "$4" >&2
	die "$3 did not create $1 within 10 s"
}

# shellcheck source=tests/bench/engine.sh
. "$TOP/tests/bench/engine.sh"

# start_tokend DIR: tokend with DIR/tokend.conf and the PAM stack in DIR/pam,
# its log in DIR/daemon.log; sets DAEMON_PID (the monitor) and ENGINE_PID.
# What tokend costs is the CPU time of both: cpu_ticks "$DAEMON_PID $ENGINE_PID".
start_tokend() {
	"${SERVER[@]}" "$TOKEND" -f -c "$1/tokend.conf" --socket "$1/tokend.sock" --db "$1/db" \
	    --key-file "$1/db/hash.key" --pam-confdir "$1/pam" "${ENGINE_USER[@]}" \
	    >"$1/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_socket "$1/tokend.sock" "$DAEMON_PID" tokend "$1/daemon.log"
	ENGINE_PID=$(engine_of "$DAEMON_PID")
}

# issue_tokens DIR PASSWORD OATH_KEY COUNT: refresh and access tokens into
# DIR/refresh.tokens and DIR/access.tokens, through PAM.
issue_tokens() {
	local start
	start=$(date +%s)
	"$PYTHON" "$TOP/tests/bench/issue-tokens.py" --socket "$1/tokend.sock" --pamdir "$1/pam" \
	    --user "$ME" --password "$2" --key "$3" --count "$4" \
	    --refresh-out "$1/refresh.tokens" --access-out "$1/access.tokens" ||
	    { tail -n 20 "$1/daemon.log" >&2; die "issuing tokens failed"; }
	echo "$PROG: issued $4 refresh and $4 access tokens in $(($(date +%s) - start)) s"
}

# cpu_ticks "PID...": CPU time (user + system, all threads) the processes
# have used together, in clock ticks.
cpu_ticks() {
	local p s=0
	for p in $1; do
		s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$s"
}
