#!/bin/bash
# SPDX-License-Identifier: ISC
# Connection limits: beyond max_connections (all users together) and beyond
# max_connections_per_uid, extra connections are refused at once with an
# ERROR frame, while the ones already open and everybody else keep working.
# Running out of descriptors pauses accept(2) instead of spinning on it,
# and max_connections is kept below the open-file limit.
. "$(dirname "$0")/lib.sh"

setup max_connections=12 max_connections_per_uid=5
start_daemon || finish
cp "$(dirname "$0")/rawclient.py" "$T/rawclient.py"
chmod 644 "$T/rawclient.py"
RAW=("$PYTHON" "$T/rawclient.py" "$SOCK")
issue_ok keep || finish
KEEP=$TOKEN

if is_root; then
	# One uid asks for 8: 5 are accepted, 3 refused.
	RES=$(timeout 20 setpriv --reuid=40001 --regid=40001 --clear-groups "${RAW[@]}" hold 8 0)
	expect_json "per uid: 5 of 8 connections are accepted" 'j["open"] == 5' "$RES"
	expect_json "per uid: the other 3 are refused" 'j["closed"] + j["refused"] == 3' "$RES"

	# Two uids hold 5 each while the total is 12: a third uid gets 2 of 5.
	HOLDERS=
	for u in 40002 40003; do
		timeout 60 setpriv --reuid=$u --regid=$u --clear-groups "${RAW[@]}" \
		    hold 5 60 >"$T/hold.$u" &
		HOLDERS="$HOLDERS $!"
	done
	wait_for "$CMD_TIMEOUT" test -s "$T/hold.40002" -a -s "$T/hold.40003"
	RES=$(timeout 20 setpriv --reuid=40004 --regid=40004 --clear-groups "${RAW[@]}" hold 5 0)
	expect_json "in total: with 10 open, 2 more fit and 3 are refused" \
	    'j["open"] == 2 and j["closed"] + j["refused"] == 3' "$RES"
	tctl_in "$KEEP" verify
	expect_rc "root is still served while others are at the limits" 0
	expect_json "the first uid's 5 were all accepted" 'j["open"] == 5' "$(cat "$T/hold.40002")"
	# shellcheck disable=SC2086
	kill $HOLDERS 2>/dev/null
	# shellcheck disable=SC2086
	wait $HOLDERS 2>/dev/null
	expect_true "the refusal over the total is logged" \
	    grep -q "connections, the maximum" "$T/daemon.log"
else
	skip "connection limits across several uids"
fi

# --- a client refused at connect reads why, even when its request could no
# longer be sent (EPIPE): "too many connections", never an I/O error.
timeout 60 "${RAW[@]}" hold 5 60 >"$T/hold.me" &
HOLDER=$!
BG_PIDS="$BG_PIDS $HOLDER"
wait_for "$CMD_TIMEOUT" test -s "$T/hold.me"
BUSY=0
for i in $(seq 1 20); do
	tctl status
	[ "$RC" = 1 ] && echo "$ERR" | grep -q "too many connections" && BUSY=$((BUSY + 1))
done
expect_eq "20 status calls over the per-uid limit all say 'too many connections'" 20 "$BUSY"
tctl_in "x" issue --name busy
expect_rc "an ISSUE over the limit is refused (exit 1)" 1
expect_match "and says so" 'too many connections' "$ERR"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

# --- out of descriptors: accept pauses (one log line, no spinning) and
# resumes by itself when descriptors free up.
SOFT=$(engine_prlimit --nofile -o SOFT --noheadings)
engine_prlimit --nofile="$(free_fd 1 "$ENGINE_PID")":
"$TCTL" --socket "$SOCK" status >"$T/late.out" 2>"$T/late.err" </dev/null &
LATE=$!
expect_true "EMFILE: the daemon says it pauses accepting" wait_log 'pausing accepts'
ticks() { awk '{ print $14 + $15 }' "/proc/$ENGINE_PID/stat"; }
T0=$(ticks)
sleep 1		# the window in which a spinning accept loop would burn CPU
T1=$(ticks)
engine_prlimit --nofile="$SOFT":
wait "$LATE"
expect_eq "the client that connected meanwhile is served once descriptors are back" 0 "$?"
expect_eq "one log line for the whole episode" 1 "$(grep -c 'pausing accepts' "$T/daemon.log")"
expect_eq "and no accept warning per attempt" 0 "$(grep 'accept: Too many' "$T/daemon.log" | grep -vc pausing)"
expect_true "the daemon did not spin: $((T1 - T0)) CPU ticks in a 1 s window" test $((T1 - T0)) -le 20
expect_true "it says when it accepts again" wait_log 'accepting connections again'
stop_daemon

# --- max_connections above the open-file limit is lowered, with a log line;
# the socket's folder is made when it is missing (/run/tokend after a reboot).
write_config max_connections=1024
SOCK=$T/run-gone/tokend.sock
DAEMON_WRAP=(prlimit --nofile=64:64)
start_daemon || finish
DAEMON_WRAP=()
expect_match "max_connections is lowered below the open-file limit" \
    'max_connections 1024 lowered to [0-9]+: the open-file limit is 64' "$(cat "$T/daemon.log")"
expect_eq "the missing socket folder was made, mode 0755" 755 "$(stat -c %a "$T/run-gone")"
tctl status
expect_rc "the daemon serves on a socket in the folder it made" 0
stop_daemon
finish
