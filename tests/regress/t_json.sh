#!/bin/bash
# tokenctl for programs: with --json a failure is also {"error","code"} on
# stdout, so a program (the Cockpit page) can tell why without parsing English.
. "$(dirname "$0")/lib.sh"

setup max_tokens_per_user=2 auth_fail_burst=3 auth_fail_per_minute=1
start_daemon || finish

# expect_error NAME EXIT CODE: the last run failed with EXIT, and stdout is
# exactly one line {"error":MESSAGE,"code":CODE}, where stderr's last line
# is "tokenctl: MESSAGE" (usage errors add "; see 'tokenctl --help'").
expect_error() {
	local name=$1 rc=$2 code=$3 line msg
	expect_rc "$name: exit $rc" "$rc"
	expect_lines "$name: one line on stdout" 1 "$T/out"
	expect_json "$name: {\"error\",\"code\":$code}" \
	    "set(j) == {'error', 'code'} and j['code'] == $code" "$OUT"
	line=$(tail -n 1 "$T/err")
	msg=$(json_eval 'j["error"]' "$OUT")
	if [ -n "$msg" ] && [[ "$line" == "tokenctl: $msg"* ]]; then
		pass "$name: the message of the stderr line"
	else
		fail "$name: the message of the stderr line" "stderr: $line" "json:   $msg"
	fi
}

# --- failures found by tokenctl itself
tctl --json frobnicate
expect_error "unknown command" 2 104
tctl list --json --bogus
expect_error "an unknown option after the command's --json" 2 104
tctl frobnicate
expect_lines "without --json stdout stays empty" 0 "$T/out"
run "$TCTL" --json --socket /nonexistent/tokend.sock list
expect_error "unreachable daemon" 3 100
run "$TCTL" --socket /nonexistent/tokend.sock list --json
expect_lines "unreachable daemon, --json after the command: one line" 1 "$T/out"
tctl --json exchange
expect_error "exchange without a token on stdin" 1 104

# --- refusals by the daemon carry its error number
tctl --json delete AAAAAAAAAAA --yes
expect_error "delete of an unknown id" 1 4
as_nobody tctl --json list --all
expect_error "list --all by a non-admin" 1 3
issue_ok one || finish
tctl --json list
ID_ONE=$(json_eval 'j[0]["id"]' "$OUT")
tctl_in "no" --json delete "$ID_ONE"
expect_error "delete not confirmed" 1 106
tctl --json list
expect_json "the unconfirmed delete deleted nothing" 'len(j) == 1' "$OUT"

fresh_oath
tctl_in "not the password" --json issue --name bad
expect_error "issue with a wrong password" 1 2
issue_token one --json
expect_error "issue with a name already used" 1 6
issue_ok two || finish
issue_token three --json
expect_error "issue beyond max_tokens_per_user" 1 7

# --- rate limited: failed authentications until the bucket (3) is dry
tctl delete --all --yes
for i in 1 2 3 4; do
	fresh_oath
	tctl_in "not the password" --json issue --name "bad-$i"
	[ "$(json_eval 'j["code"]' "$OUT")" = 13 ] && break
done
expect_error "issue after too many failed authentications" 1 13

finish
