#!/bin/bash
# SPDX-License-Identifier: ISC
# Privilege separation (SPEC.md, "Privilege separation"; daemon/MONITOR.md).
#  - Every process that holds the listening socket or a client connection
#    (ss -xap) is the engine: not root, no capabilities, NoNewPrivs 1,
#    Seccomp 2, no supplementary groups, in every thread; the monitor holds
#    none of them and, once the engine runs, has given up chroot and chown.
#  - The engine's root is db_dir; it cannot read the key file, not even when
#    the key file lies in db_dir (the default layout).
#  - A message on the channel that breaks its rules (garbage, a message not
#    expected now, one for the other direction) stops the daemon cleanly,
#    whichever side receives it; so does a system call the engine's filter
#    forbids.  A restart on the same socket and database works at once.
#  - kill -9 of either process ends the other; no orphan keeps the socket.
#  - As root, a missing or root engine user stops tokend with a clear reason;
#    started by another user, both processes run as that user.
# The channel is written to with pidfd_getfd(2) (chanwrite.py) and the
# seccomp check makes the engine call socket(2) under gdb: both need root.
# shellcheck source=tests/regress/lib.sh
. "$(dirname "$0")/lib.sh"

CHANWRITE=$TOP/tests/regress/chanwrite.py
SECCOMP_EXPECTED=1	# one check below makes the engine break its filter
setup
start_daemon || finish
issue_ok keeper --expires 1d || finish
KEEP=$TOKEN

# A sanitizer build runs the engine without its seccomp filter or chroot
# (LSan's leak check at exit reads /proc and uses ptrace); the daemon says
# so in its log.
SAN_BUILD=0
grep -q 'sanitizer build: the engine runs without its seccomp filter' "$T/daemon.log" &&
    SAN_BUILD=1

# status_field PID TID FIELD: a line's value from /proc/PID/task/TID/status.
status_field() {
	sed -n "s/^$3:[[:space:]]*//p" "/proc/$1/task/$2/status" 2>/dev/null
}

# socket_holders: sets HOLDERS to the PIDs (one per line, sorted) of every
# process holding the listening socket or an accepted connection on it
# (local address $SOCK in ss -xap), and CONNS to the number of accepted
# connections seen.
socket_holders() {
	ss -xapn 2>/dev/null | "$PYTHON" -c '
import re, sys
sock, pids, conns = sys.argv[1], set(), 0
for line in sys.stdin:
    f = line.split()
    if len(f) < 6 or f[4] != sock:
        continue
    if f[1] == "ESTAB":
        conns += 1
    pids.update(re.findall(r"pid=(\d+)", line))
print(conns)
for p in sorted(pids, key=int):
    print(p)
' "$SOCK" >"$T/holders"
	CONNS=$(head -n 1 "$T/holders")
	HOLDERS=$(tail -n +2 "$T/holders")
}

# ---------------------------------------------------------------- who holds what
# Three idle clients keep connections open while we look.
"$PYTHON" "$TOP/tests/regress/rawclient.py" "$SOCK" hold 3 60 "$T/held" >/dev/null 2>&1 &
HOLD=$!
BG_PIDS="$BG_PIDS $HOLD"
wait_for "$CMD_TIMEOUT" test -e "$T/held"
if is_root; then
	socket_holders
	expect_eq "only the engine holds the socket and its connections" "$ENGINE_PID" "$HOLDERS"
	expect_true "the connections were there to see ($CONNS accepted, 3 held)" test "${CONNS:-0}" -ge 3
else
	# Not dumpable: its own user cannot look into its descriptors (nor
	# ptrace it), so ss -p and /proc/PID/fd show nothing; root can.
	expect_true "the engine's descriptors are hidden from its own user (not dumpable)" \
	    sh -c "! ls /proc/$ENGINE_PID/fd/ >/dev/null 2>&1"
	HOLDERS=$ENGINE_PID
fi
NTASKS=0
for pid in $HOLDERS; do
	for task in /proc/"$pid"/task/*; do
		tid=${task##*/}
		NTASKS=$((NTASKS + 1))
		uids=$(status_field "$pid" "$tid" Uid)
		if is_root; then
			expect_no_match "thread $tid of $pid: no uid is 0 ($uids)" '(^|[[:space:]])0([[:space:]]|$)' "$uids"
			expect_eq "thread $tid of $pid: no supplementary groups" "" "$(status_field "$pid" "$tid" Groups)"
		else
			expect_eq "thread $tid of $pid: runs as the caller" "$MY_UID	$MY_UID	$MY_UID	$MY_UID" "$uids"
		fi
		expect_eq "thread $tid of $pid: CapEff 0" 0000000000000000 "$(status_field "$pid" "$tid" CapEff)"
		expect_eq "thread $tid of $pid: CapPrm 0" 0000000000000000 "$(status_field "$pid" "$tid" CapPrm)"
		expect_eq "thread $tid of $pid: NoNewPrivs 1" 1 "$(status_field "$pid" "$tid" NoNewPrivs)"
		if [ "$SAN_BUILD" = 0 ]; then
			expect_eq "thread $tid of $pid: Seccomp 2 (filter)" 2 "$(status_field "$pid" "$tid" Seccomp)"
		else
			expect_eq "sanitizer build: thread $tid of $pid runs without the filter, as logged" \
			    0 "$(status_field "$pid" "$tid" Seccomp)"
		fi
	done
done
expect_true "the engine's threads were all looked at ($NTASKS: the loop and the writer)" \
    test "$NTASKS" -ge 2
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null

# What the engine holds: no terminal, no syslog socket, no file outside its
# database (the clock file is the tests' seam, opened before the chroot).
# Only root may look (above).
if is_root; then
	expect_eq "the engine's stdin is /dev/null" /dev/null "$(readlink "/proc/$ENGINE_PID/fd/0")"
	expect_eq "the engine's stdout is /dev/null" /dev/null "$(readlink "/proc/$ENGINE_PID/fd/1")"
	expect_eq "in the foreground, the engine's stderr is tokend's stderr (its log)" \
	    "$T/daemon.log" "$(readlink "/proc/$ENGINE_PID/fd/2")"
	files=$(for f in /proc/"$ENGINE_PID"/fd/*; do
		[ "${f##*/}" = 2 ] || readlink "$f"
	done |
	    grep -v -e '^socket:' -e '^anon_inode:' -e '^pipe:' -e '^/dev/null$' \
	    -e "^$T/db/data.mdb\$" -e "^$T/db/lock.mdb\$" -e "^$T/clock\$" | sort -u)
	expect_eq "the engine has no other file open (no key, no binary)" "" "$files"
	expect_eq "the engine has no datagram socket (no /dev/log)" "" \
	    "$(ss -xapn 2>/dev/null | awk '$1 == "u_dgr"' | grep "pid=$ENGINE_PID,")"
fi

if is_root; then
	mon_caps=$(status_field "$DAEMON_PID" "$DAEMON_PID" CapEff)
	mon_bnd=$(status_field "$DAEMON_PID" "$DAEMON_PID" CapBnd)
	# CAP_CHOWN 0, CAP_SETPCAP 8, CAP_SYS_CHROOT 18 (CAP_SETUID/SETGID stay: PAM)
	gone=$(( (1 << 0) | (1 << 8) | (1 << 18) ))
	expect_eq "the monitor has given up chroot, chown, setpcap (CapEff $mon_caps)" \
	    0 $(( 0x$mon_caps & gone ))
	expect_eq "... and out of its bounding set, for what PAM runs (CapBnd $mon_bnd)" \
	    0 $(( 0x$mon_bnd & gone ))
	if [ "$SAN_BUILD" = 0 ]; then
		expect_eq "the engine's root is db_dir" "$T/db" "$(readlink "/proc/$ENGINE_PID/root")"
	else
		expect_match "sanitizer build: no chroot (the leak check reads /proc), as logged" \
		    'without its seccomp filter or chroot' "$(cat "$T/daemon.log")"
	fi
	expect_eq "the engine's working directory is its root" "$T/db" "$(readlink "/proc/$ENGINE_PID/cwd")"
	EUID_ENGINE=$(awk '/^Uid:/ { print $2 }' "/proc/$ENGINE_PID/status")
	EGID_ENGINE=$(awk '/^Gid:/ { print $2 }' "/proc/$ENGINE_PID/status")
	expect_eq "db_dir belongs to the engine's user" "$EUID_ENGINE" "$(stat -c %u "$T/db")"
	run setpriv --reuid="$EUID_ENGINE" --regid="$EGID_ENGINE" --clear-groups cat "$T/hash.key"
	expect_rc "the engine's user cannot read the key file" 1
	expect_match "... refused by its mode" 'Permission denied' "$ERR"
fi

# ---------------------------------------------------------------- rules of the channel
# since_start: the daemon log since its last start.
since_start() {
	awk '/^--- start/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$T/daemon.log"
}

# stopped_cleanly WHAT REGEX: the daemon ended on its own with status 1, the
# log says REGEX, no engine is left, the socket is gone; then a restart on
# the same socket and database serves the earlier token at once.
stopped_cleanly() {
	local what=$1 regex=$2 rc
	if wait_for "$CMD_TIMEOUT" sh -c "! kill -0 $DAEMON_PID 2>/dev/null"; then
		wait "$DAEMON_PID"
		rc=$?
		DAEMON_PID=
		expect_eq "$what: the daemon stops with status 1" 1 "$rc"
	else
		fail "$what: the daemon stops" "still running after ${CMD_TIMEOUT}s"
		stop_daemon
	fi
	expect_match "$what: the log says why" "$regex" "$(since_start)"
	wait_for "$CMD_TIMEOUT" sh -c "! kill -0 $ENGINE_PID 2>/dev/null"
	expect_true "$what: no engine is left" sh -c "! kill -0 $ENGINE_PID 2>/dev/null"
	expect_true "$what: the socket is removed" test ! -e "$SOCK"
	if start_daemon; then
		tctl_in "$KEEP" verify
		expect_rc "$what: after a restart the earlier token verifies" 0
	fi
}

if is_root; then
	# To the monitor, as a compromised engine would: bytes that are no frame.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" "$(printf 'garbage!' | od -An -tx1 | tr -d ' \n')"
	expect_rc "garbage written on the engine's end of the channel" 0
	stopped_cleanly "garbage from the engine" 'the engine sent a message \(bad frame header\); stopping'
	# A well-formed READY (0xd2), but the engine is ready already.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" 544b01d200000000
	expect_rc "a second READY written on the engine's end" 0
	stopped_cleanly "READY twice" 'the engine sent READY \(not expected now\); stopping'
	# KEY (0xc2) is the monitor's to send, never the engine's.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" \
	    "544b01c200000020$(printf '%064d' 0)"
	expect_rc "a KEY written on the engine's end" 0
	stopped_cleanly "a KEY from the engine" 'the engine sent a message \(.*\); stopping'
	# PAM_START for a user with an empty name.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" 544b01d30000000d00000007000000000000000000
	expect_rc "a malformed PAM_START written on the engine's end" 0
	stopped_cleanly "a malformed PAM_START" 'the engine sent PAM_START \(malformed\); stopping'
	# OTP_ASK (0xd9) for the user "../x": the monitor never builds a path
	# under otp_dir from a name with a slash in it.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" 544b01d90000000b000000010200042e2e2f78
	expect_rc "an OTP_ASK for ../x written on the engine's end" 0
	stopped_cleanly "an OTP_ASK for ../x" 'the engine sent OTP_ASK \(malformed\); stopping'
	# PAM_REPLY whose answers are no CONV_REPLY (none at all): the monitor
	# checks them before a PAM helper sees them.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" 544b01d4000000050000000100
	expect_rc "a PAM_REPLY with no answers written on the engine's end" 0
	stopped_cleanly "a PAM_REPLY with no answers" 'the engine sent PAM_REPLY \(malformed\); stopping'
	# An empty message reads as the channel closing: the engine is given a
	# moment to exit, then is not waited for.
	run "$PYTHON" "$CHANWRITE" to-monitor "$ENGINE_PID" ""
	expect_rc "an empty message written on the engine's end" 0
	stopped_cleanly "an empty message from the engine" 'closed its channel but did not exit'
	# The other way: the engine checks what it gets from the monitor too.
	run "$PYTHON" "$CHANWRITE" to-engine "$ENGINE_PID" 544b01c700000004deadbeef
	expect_rc "a malformed ACCT_LOST written on the monitor's end" 0
	stopped_cleanly "a malformed message from the monitor" 'the monitor sent a bad message'

	# A system call outside the engine's filter: it is stopped, and says which.
	if [ "$SAN_BUILD" = 1 ]; then
		expect_match "sanitizer build: the log says the filter is off" 'without its seccomp filter' \
		    "$(cat "$T/daemon.log")"
	elif ! command -v gdb >/dev/null; then
		fail "gdb is installed (the seccomp check makes the engine call socket(2))" "apt-get install gdb"
	else
		(ulimit -c 0; timeout -k 2 "$CMD_TIMEOUT" gdb -p "$ENGINE_PID" -batch -nx \
		    -ex 'handle SIGSYS nostop noprint pass' -ex 'call (int)socket(1, 1, 0)' \
		    >"$T/gdb.out" 2>&1)
		stopped_cleanly "socket(2) in the engine" \
		    'seccomp: the engine made system call 41, which its filter forbids'
	fi
fi

# A name the monitor would refuse (control characters, ':', '/') never
# reaches it: the engine answers "no such user" (an admin may name anyone).
if is_root; then
	for bad in 'a:b' 'a/b' '-x' "$(printf 'a\nb')"; do
		tctl list --user "$bad"
		expect_rc "list --user $(printf '%q' "$bad"): refused" 1
		expect_match "... as no such user" '[Nn]o such user|not found' "$ERR"
	done
	expect_true "the daemon is still running after those names" kill -0 "$DAEMON_PID"
	tctl_in "$KEEP" verify
	expect_rc "and still serves" 0
fi

# ---------------------------------------------------------------- one dies, both go
MON=$DAEMON_PID
kill -9 "$ENGINE_PID"
stopped_cleanly "kill -9 of the engine" 'the engine was killed by signal 9'

ENG=$ENGINE_PID
kill9_daemon
wait_for "$CMD_TIMEOUT" sh -c "! kill -0 $ENG 2>/dev/null"
expect_true "kill -9 of the monitor: the engine goes too" sh -c "! kill -0 $ENG 2>/dev/null"
expect_true "monitor $MON is gone" sh -c "! kill -0 $MON 2>/dev/null"
if start_daemon; then
	tctl_in "$KEEP" verify
	expect_rc "kill -9 of the monitor: a restart serves the earlier token" 0
fi
stop_daemon
expect_eq "SIGTERM stops both with status 0" 0 "$DAEMON_RC"
expect_true "SIGTERM: no engine is left" sh -c "! kill -0 $ENGINE_PID 2>/dev/null"

# ---------------------------------------------------------------- the engine's user
if is_root; then
	START_QUIET=1 start_daemon --user no-such-user-tokend
	expect_true "a missing engine user: tokend does not start" test -z "$DAEMON_PID"
	expect_match "... and says what to do" \
	    'user "no-such-user-tokend" does not exist: create it, or set user= in tokend.conf' \
	    "$(tail -n 2 "$T/daemon.log")"
	START_QUIET=1 start_daemon --user root
	expect_true "root as the engine user: tokend does not start" test -z "$DAEMON_PID"
	expect_match "... and says why" 'user "root" is root' "$(tail -n 2 "$T/daemon.log")"

	# The default layout: the key file inside db_dir.  The engine sees it in
	# its chroot but cannot read it; db_dir is the engine's, the key root's.
	DB_DIR=$T/db2 KEY_FILE=$T/db2/hash.key start_daemon || finish
	expect_eq "key in db_dir: the key file stays root's, mode 600" "0 600" \
	    "$(stat -c '%u %a' "$T/db2/hash.key")"
	expect_eq "key in db_dir: db_dir is the engine's" "$EUID_ENGINE" "$(stat -c %u "$T/db2")"
	run setpriv --reuid="$EUID_ENGINE" --regid="$EGID_ENGINE" --clear-groups cat "$T/db2/hash.key"
	expect_rc "key in db_dir: the engine's user cannot read it" 1
	issue_ok in-db2
	stop_daemon
	DB_DIR=$T/db2 KEY_FILE=$T/db2/hash.key start_daemon || finish
	tctl_in "$TOKEN" verify
	expect_rc "key in db_dir: after a restart (chowns again) the token verifies" 0
	stop_daemon
fi

# ---------------------------------------------------------------- in the background
# Without -f, started from a terminal (here: a pipe that stays open), the
# engine keeps nothing of it: stdin, stdout and stderr are /dev/null.
exec 8< <(sleep 600)
TTY_PID=$!
BG_PIDS="$BG_PIDS $TTY_PID"
"$TOKEND" -c "$T/tokend.conf" --socket "$SOCK" --db "$T/db" --key-file "$T/hash.key" \
    --pam-service tokend --pam-confdir "$PAMDIR" <&8 >"$T/bg.out" 2>&1
expect_eq "without -f, tokend returns 0 once it listens" 0 "$?"
exec 8<&-
kill "$TTY_PID" 2>/dev/null
BG_MONITOR=$(sed -n 's/.*(monitor pid \([0-9]*\), engine pid.*/\1/p' "$T/bg.out")
BG_ENGINE=$(sed -n 's/.*, engine pid \([0-9]*\),.*/\1/p' "$T/bg.out")
if [ -n "$BG_ENGINE" ] && [ -n "$BG_MONITOR" ]; then
	expect_eq "in the background, the monitor is the engine's parent" "$BG_MONITOR" \
	    "$(ps -o ppid= -p "$BG_ENGINE" 2>/dev/null | tr -d ' ')"
	tctl_in "$KEEP" verify
	expect_rc "in the background, it serves" 0
	if is_root; then
		for fd in 0 1 2; do
			expect_eq "in the background, the engine's fd $fd is /dev/null" /dev/null \
			    "$(readlink "/proc/$BG_ENGINE/fd/$fd")"
		done
	fi
	kill -TERM "$BG_MONITOR"
	wait_for "$CMD_TIMEOUT" sh -c "! kill -0 $BG_MONITOR 2>/dev/null && ! kill -0 $BG_ENGINE 2>/dev/null"
	expect_true "in the background, SIGTERM stops both" sh -c "! kill -0 $BG_ENGINE 2>/dev/null"
	expect_true "... and removes the socket" test ! -e "$SOCK"
else
	fail "tokend without -f says which processes serve" "$(cat "$T/bg.out")"
fi
finish
