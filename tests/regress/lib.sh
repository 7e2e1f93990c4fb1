# SPDX-License-Identifier: ISC
# tests/regress/lib.sh: shared helpers for the regression scripts (bash).
#
# A script sources this file, calls setup (temp dir, PAM stack, config),
# start_daemon, then its cases, and finally finish, which prints
# "NAME: N passed, M failed" and gives the exit status.  Every assertion
# counts as one test.  The EXIT trap stops the daemon and removes the
# temp dir (TEST_KEEP=1 keeps it).
#
# Environment: TOKEND, TOKENCTL (binaries, default: the build tree),
# TMPDIR, TEST_VERBOSE=1 (print passing assertions too), TEST_KEEP=1.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
TOKEND=${TOKEND:-$TOP/daemon/tokend}
TOKENCTL=${TOKENCTL:-$TOP/client/tokenctl}
if [ -x /usr/bin/python3 ]; then PYTHON=${PYTHON:-/usr/bin/python3}; else PYTHON=${PYTHON:-python3}; fi
CMD_TIMEOUT=${CMD_TIMEOUT:-20}		# seconds any single command may take
START_TIMEOUT=${START_TIMEOUT:-10}	# seconds for the daemon to answer status

NOBODY_UID=65534
AS_NOBODY_CMD="setpriv --reuid=$NOBODY_UID --regid=$NOBODY_UID --clear-groups"
ME=$(id -un)
MY_UID=$(id -u)

# Credentials of the test PAM stack: the caller ($ME, root in CI) and nobody.
PW_ME='correct horse 1'
KEY_ME=3132333435363738393031323334353637383930
PW_NOBODY='battery staple 2'
KEY_NOBODY=4142434445464748494a4b4c4d4e4f5051525354

PASSED=0
FAILED=0
SKIPPED=0
T=
SOCK=
DAEMON_PID=		# the monitor, the process tokend started as
ENGINE_PID=		# its engine: the one with the clients, the store, the caches
BG_PIDS=
FINISHED=0
AS=			# command prefix for tctl (set by as_nobody)
AS_OTHER=0		# 1 inside as_nobody: use nobody's credentials

# ---------------------------------------------------------------- reporting

pass() {
	PASSED=$((PASSED + 1))
	[ "${TEST_VERBOSE:-0}" = 1 ] && echo "  ok   $1"
	return 0
}

# fail NAME DETAIL...: one failed test, with what was observed.
fail() {
	local name=$1
	shift
	FAILED=$((FAILED + 1))
	echo "  FAIL $TEST_NAME: $name"
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/       | /' | head -20
	return 1
}

# skip NAME WHY: counted neither passed nor failed, but said clearly.
skip() {
	SKIPPED=$((SKIPPED + 1))
	echo "SKIP $TEST_NAME: $1 (${2:-needs root})"
}

is_root() { [ "$MY_UID" -eq 0 ]; }

# What the last run saw, for failure messages.
observed() {
	printf 'cmd: %s\nexit: %s\nstdout: %s\nstderr: %s\n' "$LAST_CMD" "$RC" \
	    "$(head -c 600 "$T/out")" "$(head -c 600 "$T/err")"
}

finish() {
	FINISHED=1
	# Whatever a test did, the engine's syscall filter must not have
	# stopped it (t_privsep provokes it on purpose: SECCOMP_EXPECTED=1).
	if [ "${SECCOMP_EXPECTED:-0}" = 0 ] && [ -n "$T" ] &&
	    grep -q 'seccomp: the engine made system call' "$T/daemon.log" 2>/dev/null; then
		fail "the engine never makes a system call its filter forbids" \
		    "$(grep 'seccomp: the engine made system call' "$T/daemon.log" | sort -u)"
	fi
	if [ "$FAILED" -gt 0 ] && [ -n "$T" ] && [ -f "$T/daemon.log" ]; then
		echo "  --- last lines of the daemon log ($T/daemon.log)"
		tail -n 30 "$T/daemon.log" | sed 's/^/       | /'
	fi
	[ "$SKIPPED" -gt 0 ] && echo "$TEST_NAME: $SKIPPED skipped (needs root)"
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# ---------------------------------------------------------------- running

# run CMD...: runs with $STDIN_TEXT (if set) on stdin, else /dev/null.
# Sets RC, OUT, ERR (trailing newlines stripped); raw output in $T/out, $T/err.
run() {
	LAST_CMD="$*"
	if [ -n "${STDIN_TEXT+set}" ]; then
		printf '%s' "$STDIN_TEXT" | timeout -k 2 "$CMD_TIMEOUT" "$@" >"$T/out" 2>"$T/err"
	else
		timeout -k 2 "$CMD_TIMEOUT" "$@" </dev/null >"$T/out" 2>"$T/err"
	fi
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	return 0
}

# tctl ARGS...: tokenctl against the test daemon, as $AS (see as_nobody).
tctl() {
	# shellcheck disable=SC2086
	# The daemon's test clock, so that tokenctl's "expired" is the daemon's.
	run $AS env TOKEND_TEST_CLOCK_FILE="$T/clock" "$TCTL" --socket "$SOCK" "$@"
}

# tctl_in TEXT ARGS...: the same with TEXT plus a newline on stdin.
tctl_in() {
	local STDIN_TEXT
	STDIN_TEXT="$1
"
	shift
	tctl "$@"
}

# as_nobody CMD...: run a helper (tctl, issue_token, ...) as user nobody.
as_nobody() {
	local AS="$AS_NOBODY_CMD" AS_OTHER=1
	"$@"
}

# ---------------------------------------------------------------- assertions

# expect_rc NAME CODE: the last run exited with CODE.
expect_rc() {
	if [ "$RC" = "$2" ]; then pass "$1"; else fail "$1" "expected exit $2" "$(observed)"; fi
}

# expect_exit NAME CODE CMD...: run CMD (tctl etc.) and check its exit status.
expect_exit() {
	local name=$1 code=$2
	shift 2
	"$@"
	expect_rc "$name" "$code"
}

# expect_match NAME REGEX TEXT: TEXT matches the extended REGEX (any line).
expect_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then pass "$1"; else
		fail "$1" "expected to match /$2/:" "$(printf '%s' "$3" | head -c 600)"; fi
}

expect_no_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		fail "$1" "expected not to match /$2/:" "$(printf '%s' "$3" | head -c 600)"
	else pass "$1"; fi
}

expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "got:      $3"; fi
}

expect_ne() {
	if [ "$2" != "$3" ]; then pass "$1"; else fail "$1" "expected something other than: $2"; fi
}

# expect_true NAME CMD...: CMD succeeds.
expect_true() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "false: $*"; fi
}

# expect_lines NAME N FILE: FILE has exactly N newline-terminated lines and nothing else.
expect_lines() {
	local n bytes
	n=$(wc -l <"$3")
	bytes=$(tail -c 1 "$3" | od -An -c | tr -d ' ')
	if [ "$n" -eq "$2" ] && { [ "$2" -eq 0 ] || [ "$bytes" = '\n' ]; }; then pass "$1"; else
		fail "$1" "expected exactly $2 line(s), got $n:" "$(head -c 600 "$3")"; fi
}

# json_eval EXPR TEXT: prints the Python value of EXPR with j = the parsed TEXT.
json_eval() {
	"$PYTHON" -c '
import json, sys, datetime
def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
import time
now = time.time()
try:
    j = json.loads(sys.argv[2])
    v = eval(sys.argv[1])
except Exception as e:
    print("error: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
print(json.dumps(v) if not isinstance(v, str) else v)
' "$1" "$2" 2>&1
}

# expect_json NAME EXPR TEXT: EXPR (Python, j = parsed TEXT, ts(), now) is true.
expect_json() {
	local r
	r=$(json_eval "bool($2)" "$3")
	if [ "$r" = true ]; then pass "$1"; else
		fail "$1" "expected: $2" "json: $(printf '%s' "$3" | head -c 600)" "result: $r"; fi
}

# wait_for SECONDS CMD...: run CMD until it succeeds, at most SECONDS long.
# For conditions the daemon reaches in its own time: never a fixed sleep.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# wait_log REGEX: the daemon log matches (extended REGEX) within CMD_TIMEOUT.
wait_log() { wait_for "$CMD_TIMEOUT" grep -Eq -- "$1" "$T/daemon.log"; }

# ---------------------------------------------------------------- set-up

find_module() { # find_module SUBDIR NAME
	local d
	for d in "/lib/$MA/$1" "/usr/lib/$MA/$1" "/lib/$1" "/usr/lib/$1"; do
		if [ -f "$d/$2" ]; then
			echo "$d/$2"
			return 0
		fi
	done
	return 1
}

# write_pam_stack DIR: DIR/tokend (+ empty DIR/other), DIR/passdb, DIR/users.oath.
write_pam_stack() {
	local dir=$1
	MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)
	PAM_MATRIX=$(find_module pam_wrapper pam_matrix.so) || {
		echo "$TEST_NAME: pam_matrix.so not found (install libpam-wrapper)" >&2; return 1; }
	PAM_OATH=$(find_module security pam_oath.so) || {
		echo "$TEST_NAME: pam_oath.so not found (install libpam-oath)" >&2; return 1; }
	mkdir -p "$dir"
	chmod 755 "$dir"
	cat >"$dir/tokend" <<EOF
auth     requisite  $PAM_MATRIX passdb=$dir/passdb
auth     required   $PAM_OATH usersfile=$dir/users.oath window=3 digits=6
account  required   $PAM_MATRIX passdb=$dir/passdb
EOF
	: >"$dir/other"
	{
		echo "$ME:$PW_ME:tokend"
		[ "$ME" != nobody ] && echo "nobody:$PW_NOBODY:tokend"
	} >"$dir/passdb"
	chmod 600 "$dir/passdb"
	PAMDIR=$dir
	fresh_oath
}

# fresh_oath: rewrite users.oath so that the next TOTP code is not a replay.
fresh_oath() {
	rm -f "$PAMDIR/users.oath.lock" "$PAMDIR/users.oath.new"
	{
		echo "HOTP/T30/6 $ME - $KEY_ME"
		[ "$ME" != nobody ] && echo "HOTP/T30/6 nobody - $KEY_NOBODY"
	} >"$PAMDIR/users.oath"
	chmod 600 "$PAMDIR/users.oath"
}

# use_nss_wrapper NAME:UID...: the daemon (and only the daemon: DAEMON_ENV)
# sees a password database of its own, with root, nobody, the caller and
# these users (libnss-wrapper); nss_users rewrites it later.
DAEMON_ENV=()
DAEMON_WRAP=()		# a command the daemon runs under (prlimit ...), execs it
use_nss_wrapper() {
	local lib
	lib=$(find_module . libnss_wrapper.so) || {
		echo "$TEST_NAME: libnss_wrapper.so not found (install libnss-wrapper)" >&2; return 1; }
	nss_users "$@"
	# (A sanitizer build wants its runtime first; the preload comes before it.)
	DAEMON_ENV=(LD_PRELOAD="$lib" NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group"
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
}

# nss_users NAME:UID...: the users the daemon sees from now on (a new file,
# so the wrapper reads it again).
nss_users() {
	local u
	{
		echo "root:x:0:0:root:/root:/bin/sh"
		echo "nobody:x:$NOBODY_UID:$NOBODY_UID:nobody:/nonexistent:/bin/false"
		[ "$MY_UID" != 0 ] && echo "$ME:x:$MY_UID:$(id -g):$ME:/:/bin/false"
		for u in "$@"; do
			echo "${u%%:*}:x:${u#*:}:${u#*:}::/:/bin/false"
		done
	} >"$T/passwd.new"
	{
		echo "root:x:0:"
		echo "nogroup:x:$NOBODY_UID:"
		[ "$MY_UID" != 0 ] && echo "$(id -gn):x:$(id -g):"
		for u in "$@"; do
			echo "${u%%:*}:x:${u#*:}:"
		done
	} >"$T/group.new"
	mv "$T/passwd.new" "$T/passwd"
	mv "$T/group.new" "$T/group"
}

# write_config KEY=VALUE...: the test config, short timeouts, overrides last.
write_config() {
	{
		echo "# written by tests/regress/lib.sh"
		echo "fail_delay_ms = 100"
		echo "pam_timeout = 10s"
		echo "idle_timeout = 30s"
		echo "max_pam_helpers = 4"
		echo "pam_serialize = yes"
		echo "map_size = 64M"
		# VERIFY is for root and the verifier group: unprivileged runs need it.
		is_root || echo "verifier_group = $(id -gn)"
		# As root, the engine runs as a user of its own: nobody, here.
		is_root && echo "user = nobody"
		local kv
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$T/tokend.conf"
}

# setup [KEY=VALUE...]: temp dir (0755), PAM stack, config, a tokenctl nobody can run.
setup() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	if [ ! -x "$TOKEND" ] || [ ! -x "$TOKENCTL" ]; then
		echo "$TEST_NAME: $TOKEND or $TOKENCTL not built" >&2
		exit 1
	fi
	T=$(mktemp -d "${TMPDIR:-/tmp}/tokend-$TEST_NAME.XXXXXX") || exit 1
	chmod 755 "$T"
	SOCK=$T/tokend.sock
	mkdir -p "$T/db"
	# A copy other users can execute even when the build tree is private.
	TCTL=$T/tokenctl
	cp "$TOKENCTL" "$TCTL"
	chmod 755 "$TCTL"
	write_pam_stack "$T/pam" || exit 1
	write_config "$@"
	echo 0 >"$T/clock"	# the daemon's test clock (clock_advance)
	chmod 644 "$T/clock"
}

cleanup() {
	local rc=$? p
	# A script's own processes first (t_fleet: its daemons, PostgreSQL).
	declare -F cleanup_hook >/dev/null && cleanup_hook
	for p in $BG_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "$DAEMON_PID" ]; then
		kill -9 "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	if [ "$FINISHED" != 1 ]; then
		echo "$TEST_NAME: aborted (exit $rc) before its summary"
		[ -n "$T" ] && [ -f "$T/daemon.log" ] && tail -n 30 "$T/daemon.log" | sed 's/^/       | /'
	fi
	if [ -n "$T" ] && [ "${TEST_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	elif [ -n "$T" ]; then
		echo "$TEST_NAME: kept $T"
	fi
}

# ---------------------------------------------------------------- daemon

# start_daemon [EXTRA FLAGS...]: background daemon; waits until status answers.
# Returns non-zero (and counts a failure unless START_QUIET=1) when it does not
# come up.  DB_DIR and KEY_FILE override the paths.
start_daemon() {
	local i=0 max=$((START_TIMEOUT * 10))
	echo "--- start $(date +%T)" >>"$T/daemon.log"
	"${DAEMON_WRAP[@]}" env TOKEND_TEST_CLOCK_FILE="$T/clock" "${DAEMON_ENV[@]}" \
	    "$TOKEND" -f -c "$T/tokend.conf" --socket "$SOCK" --db "${DB_DIR:-$T/db}" \
	    --key-file "${KEY_FILE:-$T/hash.key}" --pam-service tokend --pam-confdir "$PAMDIR" \
	    "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	while [ $i -lt $max ]; do
		if [ -S "$SOCK" ] && timeout 5 "$TCTL" --socket "$SOCK" status \
		    >/dev/null 2>&1 </dev/null; then
			ENGINE_PID=$(pgrep -P "$DAEMON_PID" -f -- --engine)
			return 0
		fi
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID"
			DAEMON_RC=$?
			DAEMON_PID=
			[ "${START_QUIET:-0}" = 1 ] && return 1
			fail "daemon starts" "tokend exited with $DAEMON_RC before answering status" \
			    "$(tail -n 15 "$T/daemon.log")"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	[ "${START_QUIET:-0}" = 1 ] && return 1
	fail "daemon starts" "no answer to status within ${START_TIMEOUT}s" \
	    "$(tail -n 15 "$T/daemon.log")"
	return 1
}

# sanitizer_check: an ASan/UBSan report in the daemon log is a failure.
sanitizer_check() {
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/daemon.log" 2>/dev/null; then
		fail "no sanitizer report in the daemon log" \
		    "$(grep -E -A8 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/daemon.log" | head -20)"
	fi
}

# stop_daemon: SIGTERM, wait up to 5 s; sets DAEMON_RC (137 when it had to be killed).
stop_daemon() {
	local i=0
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -9 "$DAEMON_PID" 2>/dev/null
		echo "--- killed with SIGKILL after SIGTERM did not stop it" >>"$T/daemon.log"
	fi
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_RC=$?
	DAEMON_PID=
	sanitizer_check
}

# pam_helpers [PID]: the daemon's PAM helper processes (not its account helper).
pam_helpers() { pgrep -P "${1:-$DAEMON_PID}" -f -- '--pam-helper'; }

# clock_advance SECONDS: move the daemon's wall clock forward (clock.h's
# test seam), so that a test never waits out a real token lifetime.
CLOCK_OFFSET=0
clock_advance() {
	CLOCK_OFFSET=$((CLOCK_OFFSET + $1))
	# In place: the daemon holds the file open (a half-written file is
	# ignored and read again at its next change).
	echo "$CLOCK_OFFSET" >"$T/clock"
}

# free_fd N [PID]: the Nth lowest descriptor number the engine (or PID) does
# not use.  A soft
# limit of free_fd 1 makes its next open fail with EMFILE; free_fd 2 leaves
# it exactly one.
free_fd() {
	local n=$1 pid=${2:-$ENGINE_PID} fd=0
	while :; do
		if [ ! -e "/proc/$pid/fd/$fd" ]; then
			n=$((n - 1))
			[ "$n" -eq 0 ] && break
		fi
		fd=$((fd + 1))
	done
	echo "$fd"
}

# engine_prlimit ARGS...: prlimit --pid ENGINE ARGS, as the engine's own user
# (root may lack CAP_SYS_RESOURCE for another user's process; its own user
# may change its limits).
engine_prlimit() {
	local u g
	u=$(awk '/^Uid:/ { print $2 }' "/proc/$ENGINE_PID/status")
	g=$(awk '/^Gid:/ { print $2 }' "/proc/$ENGINE_PID/status")
	if is_root && [ "$u" != 0 ]; then
		setpriv --reuid="$u" --regid="$g" --clear-groups prlimit --pid "$ENGINE_PID" "$@"
	else
		prlimit --pid "$ENGINE_PID" "$@"
	fi
}

# kill9_daemon: SIGKILL, no clean-up by the daemon.
kill9_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -9 "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	echo "--- SIGKILL $(date +%T)" >>"$T/daemon.log"
}

# ---------------------------------------------------------------- tokens

# issue_token NAME [ARGS...]: issue as the caller (or nobody inside as_nobody)
# with a fresh TOTP code.
# Sets RC OUT ERR and TOKEN (stdout's first line).
issue_token() {
	local name=$1 pw key code
	shift
	if [ "$AS_OTHER" = 1 ]; then pw=$PW_NOBODY key=$KEY_NOBODY; else pw=$PW_ME key=$KEY_ME; fi
	fresh_oath
	code=$(oathtool --totp "$key")
	tctl_in "$pw
$code" issue --name "$name" "$@"
	TOKEN=$(head -n 1 "$T/out")
}

# issue_ok NAME [ARGS...]: issue_token that must succeed (one assertion).
issue_ok() {
	issue_token "$@"
	if [ "$RC" = 0 ] && [[ "$TOKEN" == *tkr_* ]]; then
		pass "issue $1"
	else
		fail "issue $1" "$(observed)"
		TOKEN=
		return 1
	fi
}

# token_id TOKEN: the public id, as verify --json reports it (jti); empty if inactive.
token_id() {
	local STDIN_TEXT="$1
"
	tctl --json verify
	[ "$RC" = 0 ] && json_eval 'j["jti"]' "$OUT"
}

# list_ids [ARGS]: ids from list --json (one per line), as $AS.
list_ids() {
	tctl --json list "$@"
	[ "$RC" = 0 ] && json_eval '"\n".join(sorted(t["id"] for t in j))' "$OUT"
}

# verify_rc TOKEN: exit status of verify for TOKEN (as root / the caller).
verify_rc() {
	local STDIN_TEXT="$1
"
	tctl verify
	return "$RC"
}
