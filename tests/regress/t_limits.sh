#!/bin/bash
# Connection limits: beyond max_connections (all users together) and beyond
# max_connections_per_uid, extra connections are refused at once with an
# ERROR frame, while the ones already open and everybody else keep working.
. "$(dirname "$0")/lib.sh"

setup max_connections=12 max_connections_per_uid=5
start_daemon || finish
RAW=("$PYTHON" "$TOP/tests/regress/rawclient.py" "$SOCK")
if ! is_root; then
	skip "connection limits across several uids"
	finish
fi
issue_ok keep || finish
KEEP=$TOKEN

# One uid holds 8: 5 stay open, 3 are refused.
RES=$(timeout 20 setpriv --reuid=40001 --regid=40001 --clear-groups "${RAW[@]}" hold 8 3)
expect_json "per uid: 5 of 8 connections stay open" 'j["open"] == 5' "$RES"
expect_json "per uid: the other 3 are refused" 'j["closed"] + j["refused"] == 3' "$RES"

# Three uids at 5, 5 and 5 while the total is 12: the last 3 are refused.
HOLDERS=
for u in 40002 40003; do
	timeout 20 setpriv --reuid=$u --regid=$u --clear-groups "${RAW[@]}" hold 5 6 >"$T/hold.$u" &
	HOLDERS="$HOLDERS $!"
done
sleep 1.5
RES=$(timeout 20 setpriv --reuid=40004 --regid=40004 --clear-groups "${RAW[@]}" hold 5 1)
expect_json "in total: with 10 open, 2 more fit and 3 are refused" \
    'j["open"] == 2 and j["closed"] + j["refused"] == 3' "$RES"
tctl_in "$KEEP" verify
expect_rc "root is still served while others are at the limits" 0
# shellcheck disable=SC2086
wait $HOLDERS
expect_json "the first uid's 5 stayed open throughout" 'j["open"] == 5' "$(cat "$T/hold.40002")"
grep -q "connections, the maximum" "$T/daemon.log"
expect_rc "the refusal over the total is logged" 0
tctl status
expect_rc "the daemon serves after the flood" 0
stop_daemon
finish
