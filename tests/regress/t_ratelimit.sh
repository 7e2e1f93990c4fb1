#!/bin/bash
# SPDX-License-Identifier: ISC
# Failure rate limits: failed EXCHANGEs per caller uid, failed PAM
# authentications per user (taken when PAM starts, hangs and crashes
# included); one log line per dry spell.  VERIFY has none: a service that
# verifies other people's tokens must never be locked out by them.
. "$(dirname "$0")/lib.sh"

setup exchange_fail_burst=3 exchange_fail_per_minute=1 \
    auth_fail_burst=2 auth_fail_per_minute=1
start_daemon || finish

issue_ok live || finish
LIVE=$TOKEN
issue_ok gone || finish
GONE=$TOKEN
tctl --json list
GONE_ID=$(json_eval '[t["id"] for t in j if t["name"] == "gone"][0]' "$OUT")
tctl delete "$GONE_ID" --yes

# EXCHANGE: three failures empty the bucket; then even a good token waits.
for i in 1 2 3; do
	tctl_in "$GONE" exchange
	expect_rc "failed exchange $i is refused as inactive" 1
done
tctl_in "$LIVE" exchange
expect_rc "after 3 failures a valid exchange is rate-limited" 1
expect_match "it says so once, and when to try again" \
    '^tokenctl: exchange: too many failed exchanges; try again in [0-9]+[smh]$' "$ERR"
expect_eq "the log names the limit once" 1 "$(grep -c 'rate limit: failed exchanges by uid' "$T/daemon.log")"
tctl_in "$LIVE" exchange
expect_eq "still one log line after another refusal" 1 "$(grep -c 'rate limit: failed exchanges by uid' "$T/daemon.log")"

# VERIFY: no failure limit at all.  1500 forged tokens with valid checksums
# (more than the old limit's burst of 1000) from the caller's uid, then a
# valid one: it is active.
tctl_in "$LIVE" verify
expect_rc "verify is not limited by exchange failures" 0
cp "$(dirname "$0")/rawclient.py" "$T/rawclient.py"
RES=$(printf '%s\n' "$LIVE" | timeout 60 "$PYTHON" "$T/rawclient.py" "$SOCK" verify-flood 1500)
expect_json "1500 forged tokens are all answered inactive, none refused" \
    'j["inactive"] == 1500 and j["errors"] == []' "$RES"
expect_json "a valid token verified right after them is active" 'j["last"] == "active"' "$RES"
tctl_in "$LIVE" verify
expect_rc "and still verifies from another connection" 0
write_config exchange_fail_burst=3 exchange_fail_per_minute=1 \
    auth_fail_burst=2 auth_fail_per_minute=1 verify_fail_burst=4 verify_fail_per_minute=1
kill -HUP "$DAEMON_PID"
expect_true "the retired verify_fail_* keys are reported as ignored on reload" \
    wait_log 'verify_fail_burst and verify_fail_per_minute are ignored'

# PAM: two failed authentications of a user stop the next ISSUE before PAM runs.
for i in 1 2; do
	fresh_oath
	tctl_in "wrong password
000000" issue --name "bad$i"
	expect_rc "failed authentication $i" 1
done
issue_token after-failures
expect_rc "the third ISSUE is refused, even with the right password" 1
expect_match "it says there were too many failed authentications, once, and when to retry" \
    "^tokenctl: issue: too many failed authentications for $ME; try again in [0-9]+[smh]\$" "$ERR"
expect_no_match "PAM was not run for it (no prompt)" 'Password' "$ERR"

if is_root; then
	as_nobody issue_token nobody-ok
	expect_rc "another user is not limited by root's failures" 0
	# An admin lets the user try again at once: tokenctl unlock.  First
	# empty the exchange bucket too.
	for i in 1 2 3 4; do tctl_in "$GONE" exchange; done
	tctl_in "$LIVE" exchange
	expect_match "before unlock, exchanges are refused too" 'too many failed exchanges' "$ERR"
	as_nobody tctl unlock "$ME"
	expect_rc "a non-admin cannot unlock anyone" 1
	expect_match "... it is refused as not permitted" 'only admins may unlock' "$ERR"
	tctl --json unlock "$ME"
	expect_rc "unlock exits 0" 0
	expect_json "unlock --json says the user had been locked out" \
	    "j == {'user': '$ME', 'was_locked': True}" "$OUT"
	expect_match "... and tells the admin on stderr" "^Unlocked $ME: " "$ERR"
	expect_true "the log says who unlocked whom" wait_log "unlocked $ME \\(uid $MY_UID\\): failed authentications and exchanges forgotten, caller uid 0"
	issue_token after-unlock
	expect_rc "after unlock the right password issues at once" 0
	tctl_in "$LIVE" exchange
	expect_rc "and the exchange limit is lifted too" 0
	tctl unlock "$ME"
	expect_match "unlocking a user who is not locked out says so" "^$ME was not locked out" "$ERR"
	tctl unlock no-such-user-here
	expect_rc "unlock of an unknown user exits 1" 1
	expect_match "... as no such user" 'no such user' "$ERR"
	tctl unlock
	expect_rc "unlock without a user is a usage error" 2
else
	skip "another user is not limited by root's failures"
	skip "an admin unlocks a user"
fi
tctl status
expect_rc "the daemon still serves" 0
stop_daemon
finish
