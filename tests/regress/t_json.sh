#!/bin/bash
# SPDX-License-Identifier: ISC
# tokenctl for programs: with --json a failure is also {"error","code"} on
# stdout; issue --json-prompts relays each PAM message as a JSON line,
# flushed before the answer is read (what the Cockpit page relies on).
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
expect_error "exchange without a token on stdin: a usage error" 2 104

# --- refusals by the daemon carry its error number
tctl --json delete AAAAAAAAAAA --yes
expect_error "delete of an unknown id" 1 4
# (As root, a non-admin is nobody; run by another user, that user is one.)
if is_root; then as_nobody tctl --json list --all; else tctl --json list --all; fi
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

# --- issue --json-prompts: the conversation as JSON lines
tctl delete --all --yes
fresh_oath
tctl_in "$PW_ME
$(oathtool --totp $KEY_ME)" issue --json-prompts --name relay --scope deploy
expect_rc "issue --json-prompts with the right answers exits 0" 0
expect_lines "three lines: two prompts and the token" 3 "$T/out"
expect_json "line 1 is the password prompt" \
    "j == {'conv': 'echo_off', 'text': 'Password: '}" "$(sed -n 1p "$T/out")"
expect_json "line 2 is the one-time code prompt" \
    "j['conv'] == 'echo_off' and j['text'].startswith('One-time password')" "$(sed -n 2p "$T/out")"
expect_json "line 3 is the token object" \
    "j['token'].startswith('tkr_') and j['name'] == 'relay' and j['scopes'] == ['deploy']" \
    "$(sed -n 3p "$T/out")"
expect_no_match "no prompt text on stderr" 'Password|One-time' "$ERR"
expect_match "the warning still goes to stderr" 'cannot be shown again' "$ERR"

fresh_oath
tctl_in "$PW_ME" issue --json-prompts --name cut-short
expect_rc "--json-prompts with an answer missing exits 1" 1
expect_lines "the prompts, then the error" 3 "$T/out"
expect_json "the last line says the prompt went unanswered" \
    "j['code'] == 106 and 'no answer' in j['error']" "$(tail -n 1 "$T/out")"

# A program sees each prompt before it answers: write nothing until a
# prompt has been read, and fail if a prompt does not come within 10 s.
fresh_oath
"$PYTHON" - "$TCTL" "$SOCK" "$PW_ME" "$KEY_ME" >"$T/conv.out" 2>&1 <<'EOF'
import json, select, subprocess, sys
tctl, sock, pw, key = sys.argv[1:5]
p = subprocess.Popen([tctl, "--socket", sock, "issue", "--json-prompts", "--name", "live"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def line():
    if not select.select([p.stdout], [], [], 10)[0]:
        print("timeout waiting for a line"); p.kill(); sys.exit(1)
    return json.loads(p.stdout.readline())
for answer in (pw, None):
    m = line()
    print(m["conv"], m["text"])
    if answer is None:
        answer = subprocess.run(["oathtool", "--totp", key], capture_output=True,
                                text=True).stdout.strip()
    p.stdin.write((answer + "\n").encode()); p.stdin.flush()
m = line()
print("token" if m.get("token", "").startswith("tkr_") else m)
print("exit", p.wait(10))
EOF
CONV=$(cat "$T/conv.out")
expect_match "a live program gets the password prompt before answering" '^echo_off Password: $' "$CONV"
expect_match "then the code prompt" "^echo_off One-time password" "$CONV"
expect_match "then the token" '^token$' "$CONV"
expect_match "and exit 0" '^exit 0$' "$CONV"

# --- rate limited: failed authentications until the bucket (3) is dry
tctl delete --all --yes
for i in 1 2 3 4; do
	fresh_oath
	tctl_in "not the password" --json issue --name "bad-$i"
	[ "$(json_eval 'j["code"]' "$OUT")" = 13 ] && break
done
expect_error "issue after too many failed authentications" 1 13

finish
