#!/bin/bash
# SPDX-License-Identifier: ISC
# Crash consistency under load (issue 5, item 5): issues and revokes run
# concurrently, the daemon is killed with SIGKILL at a random moment, then
# restarted -- several rounds.  Every ISSUE that was acknowledged (exit 0)
# must still be valid, and every acknowledged REVOKE must still hold.
# Operations that were in flight when the daemon died may have gone either
# way: a token whose revoke was sent but not acknowledged is not checked.
# shellcheck source=tests/regress/lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=${CRASH_ROUNDS:-8}
INITIAL=16
setup auth_fail_burst=0 max_tokens_per_user=1000
start_daemon || finish

ACKED=$T/acked-issues		# "ID TOKEN" per acknowledged ISSUE
TRIED=$T/tried-revokes		# ID per REVOKE sent (before the answer)
REVOKED=$T/acked-revokes	# ID per acknowledged REVOKE
: >"$ACKED"
: >"$TRIED"
: >"$REVOKED"

# issue_one NAME: issue with a fresh TOTP code; on exit 0 record it in $ACKED.
# Uses its own files: it runs in the background beside the revoke loop.
issue_one() {
	local code id tok
	fresh_oath
	code=$(oathtool --totp "$KEY_ME")
	printf '%s\n%s\n' "$PW_ME" "$code" | timeout -k 2 "$CMD_TIMEOUT" \
	    "$TCTL" --socket "$SOCK" --json issue --name "$1" >"$T/iss.out" 2>"$T/iss.err" || return 1
	id=$(sed -n 's/.*"id":"\([0-9A-Za-z]*\)".*/\1/p' "$T/iss.out")
	tok=$(sed -n 's/.*"token":"\(tkr_[0-9A-Za-z]*\)".*/\1/p' "$T/iss.out")
	if [ -z "$id" ] || [ -z "$tok" ]; then
		echo "issue $1: exit 0 but no token/id in: $(cat "$T/iss.out")" >>"$T/anomalies"
		return 1
	fi
	echo "$id $tok" >>"$ACKED"
}

# issue_loop ROUND: issues, one at a time (pam_oath's users.oath is shared).
issue_loop() {
	local i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		issue_one "r$1-$i"
	done
}

# revoke_loop: revokes a random acknowledged, not yet tried token now and then.
revoke_loop() {
	local id
	while [ ! -e "$T/stop" ]; do
		id=$(cut -d' ' -f1 "$ACKED" | grep -vxF -f "$TRIED" | shuf -n 1)
		if [ -n "$id" ]; then
			echo "$id" >>"$TRIED"
			if timeout -k 2 "$CMD_TIMEOUT" "$TCTL" --socket "$SOCK" delete "$id" --yes \
			    </dev/null >/dev/null 2>"$T/rev.err"; then
				echo "$id" >>"$REVOKED"
			fi
		fi
		sleep 0.0$((5 + RANDOM % 5))
	done
}

# check_state WHEN: every acknowledged ISSUE is active and listed unless it
# was revoked (acknowledged) or its revoke was in flight; every acknowledged
# REVOKE holds.
check_state() {
	local when=$1 id tok listed bad_issue='' bad_revoke='' nissue=0 nrevoke=0
	tctl --json list
	if [ "$RC" != 0 ]; then
		fail "$when: list works" "$(observed)"
		return
	fi
	listed=$(json_eval '"\n".join(t["id"] for t in j)' "$OUT")
	while read -r id tok; do
		if grep -qxF "$id" "$REVOKED"; then
			nrevoke=$((nrevoke + 1))
			printf '%s\n' "$listed" | grep -qxF "$id" &&
			    bad_revoke="$bad_revoke $id(listed)"
			verify_rc "$tok" && bad_revoke="$bad_revoke $id(verifies)"
		elif grep -qxF "$id" "$TRIED"; then
			continue	# revoke in flight at the kill: either outcome is right
		else
			nissue=$((nissue + 1))
			printf '%s\n' "$listed" | grep -qxF "$id" ||
			    bad_issue="$bad_issue $id(not-listed)"
			verify_rc "$tok" || bad_issue="$bad_issue $id(inactive:rc=$RC)"
		fi
	done <"$ACKED"
	if [ -z "$bad_issue" ]; then
		pass "$when: all $nissue acknowledged issues are listed and active"
	else
		fail "$when: every acknowledged issue is listed and active" "lost:$bad_issue"
	fi
	if [ -z "$bad_revoke" ]; then
		pass "$when: all $nrevoke acknowledged revokes hold"
	else
		fail "$when: every acknowledged revoke holds" "resurrected:$bad_revoke"
	fi
}

for i in $(seq 1 "$INITIAL"); do
	issue_one "init-$i" || fail "initial issue init-$i" "$(cat "$T/iss.err")"
done
expect_eq "$INITIAL initial tokens issued" "$INITIAL" "$(wc -l <"$ACKED")"

for round in $(seq 1 "$ROUNDS"); do
	rm -f "$T/stop"
	issue_loop "$round" &
	IL=$!
	revoke_loop &
	RL=$!
	BG_PIDS="$BG_PIDS $IL $RL"
	ms=$((50 + RANDOM % 451))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill9_daemon
	touch "$T/stop"
	wait "$IL" "$RL"	# each finishes its command: no answer goes unrecorded
	echo "--- round $round: killed after $ms ms; $(wc -l <"$ACKED") issues, $(wc -l <"$REVOKED") revokes acknowledged so far" >>"$T/daemon.log"
	start_daemon || finish
	check_state "round $round (kill -9 after $ms ms)"
done

NI=$(wc -l <"$ACKED")
NR=$(wc -l <"$REVOKED")
expect_true "load happened: more issues than the initial ones ($((NI - INITIAL)) during the rounds)" \
    test "$NI" -gt "$INITIAL"
expect_true "load happened: revokes were acknowledged ($NR)" test "$NR" -gt 0
if [ -s "$T/anomalies" ]; then
	fail "every acknowledged issue printed its token and id" "$(cat "$T/anomalies")"
fi

# A last check after a clean restart.
stop_daemon
expect_eq "SIGTERM exits 0 after the crash rounds" 0 "$DAEMON_RC"
start_daemon || finish
check_state "after a clean restart"
stop_daemon
finish
