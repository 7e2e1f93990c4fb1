#!/bin/bash
# SPDX-License-Identifier: ISC
# pam_tokend.so stacked in a PAM service: auth with tokens, session warnings.
. "$(dirname "$0")/lib.sh"

MODULE=$TOP/pam/pam_tokend.so
PAMDRIVE=$TOP/tests/pam/pamdrive

setup verifier_group="$(id -gn)"
start_daemon || finish
SVC=$T/svc
mkdir -p "$SVC"
: >"$SVC/other"
svc() { # svc NAME LINES...: a service file in $SVC
	local name=$1
	shift
	printf '%s\n' "$@" >"$SVC/$name"
}
svc tok		"auth required $MODULE socket=$SOCK"
svc tok-access	"auth required $MODULE socket=$SOCK accept=access"
svc tok-scope	"auth required $MODULE socket=$SOCK scope=deploy"
svc tok-down	"auth required $MODULE socket=$T/absent.sock timeout=2"
# pam_unix stores what was typed as PAM_AUTHTOK, as a real password module does.
svc tok-first	"auth sufficient pam_unix.so nodelay" \
		"auth required $MODULE socket=$SOCK try_first_pass"
svc tok-use	"auth required $MODULE socket=$SOCK use_first_pass"
svc tok-session	"session required $MODULE socket=$SOCK warn_days=7"

# pam NAME SERVICE USER OP [ANSWER]: run pamdrive, the answer on stdin.
pam() {
	local name=$1 service=$2 user=$3 op=$4
	local STDIN_TEXT="${5:-}
"
	run "$PAMDRIVE" "$SVC" "$service" "$user" "$op"
	PAM_RESULT=$(sed -n 's/^result: //p' "$T/out")
}
expect_pam() { # expect_pam NAME RESULT (after pam)
	expect_eq "$1" "$2" "$PAM_RESULT"
}

issue_ok deployer --scope deploy --scope read || finish
TKR=$TOKEN
tctl_in "$TKR" exchange
TKA=$OUT
issue_ok reader --scope read || finish
TKR_READ=$TOKEN
tctl_in "$TKR_READ" exchange
TKA_READ=$OUT

pam a1 tok "$ME" auth "$TKA"
expect_pam "an access token authenticates its user" PAM_SUCCESS
expect_match "the module prompts Token:" '^prompt: Token: ?$' "$OUT"
pam a2 tok nobody auth "$TKA"
expect_pam "an access token does not authenticate another user" PAM_AUTH_ERR
pam a3 tok-access "$ME" auth "$TKR"
expect_pam "accept=access refuses a refresh token" PAM_AUTH_ERR
pam a4 tok-access "$ME" auth "$TKA"
expect_pam "accept=access takes an access token" PAM_SUCCESS
pam a5 tok "$ME" auth "$TKR"
expect_pam "accept=any (default) takes a refresh token" PAM_SUCCESS
pam a6 tok-scope "$ME" auth "$TKA_READ"
expect_pam "scope=deploy refuses a token without that scope" PAM_AUTH_ERR
pam a7 tok-scope "$ME" auth "$TKA"
expect_pam "scope=deploy takes a token with that scope" PAM_SUCCESS
pam a8 tok "$ME" auth "not-a-token"
expect_pam "garbage is refused" PAM_AUTH_ERR

# try_first_pass: the password module fails on the token, then the token works.
pam a9 tok-first "$ME" auth "$TKA"
expect_pam "try_first_pass takes the token typed for a failing password module" PAM_SUCCESS
expect_eq "try_first_pass asks only once" 1 "$(grep -c '^prompt:' "$T/out")"
pam a10 tok-first "$ME" auth "not a password
$TKA"
expect_pam "try_first_pass prompts for a token when the earlier answer is not one" PAM_SUCCESS
expect_eq "try_first_pass then asks a second time" 2 "$(grep -c '^prompt:' "$T/out")"
pam a11 tok-use "$ME" auth "$TKA"
expect_pam "use_first_pass without an earlier password fails" PAM_AUTH_ERR
expect_eq "use_first_pass never prompts" 0 "$(grep -c '^prompt:' "$T/out")"

# session: warn about tokens expiring within warn_days, and only those.
pam s1 tok-session "$ME" session
expect_pam "session succeeds" PAM_SUCCESS
expect_no_match "no warning while every token lives longer than warn_days" '^info:' "$OUT"
issue_ok soon --expires 3d || finish
pam s2 tok-session "$ME" session
expect_pam "session with an expiring token succeeds" PAM_SUCCESS
expect_match "the session warns about the expiring token" \
    "^info: Your tokend token \"soon\" expires in 3 days \\([0-9]{4}-[0-9]{2}-[0-9]{2}\\)\\.$" "$OUT"
expect_eq "exactly one warning" 1 "$(grep -c '^info:' "$T/out")"
# A token name is the user's own text: a C1 control (U+009B, CSI on some
# terminals) in it must not reach the terminal of whoever logs in.
issue_ok "evil$(printf '\302\233')2J" --expires 2d || finish
pam s3 tok-session "$ME" session
expect_match "a name with a C1 control is warned about with '?' in its place" \
    '^info: Your tokend token "evil\?2J" expires in 2 days' "$OUT"
expect_true "no C1 control byte reaches the output" \
    bash -c "! LC_ALL=C grep -q \$'\302\233' '$T/out'"

# Stacked into tokend's own PAM service (as pam-auth-update's profile does),
# the module steps aside: an access token must not buy a refresh token.
cp "$PAMDIR/tokend" "$T/tokend.pam.orig"
{ echo "auth sufficient $MODULE socket=$SOCK"; cat "$T/tokend.pam.orig"; } >"$PAMDIR/tokend"
fresh_oath
tctl_in "$TKA" issue --name bought
expect_rc "an access token typed at tokend's own PAM prompt issues nothing" 1
expect_no_match "pam_tokend asked for no token inside ISSUE" 'Token:' "$ERR"
issue_ok through-stack
cp "$T/tokend.pam.orig" "$PAMDIR/tokend"

# revoke: the access token stops at once.
tctl --json list
DEPLOY_ID=$(json_eval '[t["id"] for t in j if t["name"] == "deployer"][0]' "$OUT")
tctl delete "$DEPLOY_ID" --yes
expect_rc "delete the deployer token" 0
pam r1 tok "$ME" auth "$TKA"
expect_pam "an access token is refused after its refresh token is deleted" PAM_AUTH_ERR

# daemon unreachable: AUTHINFO_UNAVAIL within the timeout, so stacks can fall through.
start=$(date +%s%N)
pam u1 tok-down "$ME" auth "$TKA_READ"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_pam "no daemon gives PAM_AUTHINFO_UNAVAIL" PAM_AUTHINFO_UNAVAIL
expect_true "no daemon is reported within the timeout (${elapsed} ms)" \
    [ "$elapsed" -lt 3000 ]
kill -STOP "$ENGINE_PID"
svc tok-hung "auth required $MODULE socket=$SOCK timeout=2"
start=$(date +%s%N)
pam u2 tok-hung "$ME" auth "$TKA_READ"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
kill -CONT "$ENGINE_PID"
expect_pam "a daemon that does not answer gives PAM_AUTHINFO_UNAVAIL" PAM_AUTHINFO_UNAVAIL
expect_true "a hung daemon is given up on within timeout=2 (${elapsed} ms)" \
    [ "$elapsed" -lt 4000 ]
stop_daemon
pam u3 tok "$ME" auth "tka_0000000000000000000000000000000000000000000000000000000000000000000000"
expect_pam "a malformed token is refused without asking the (stopped) daemon" PAM_AUTH_ERR

# Only the PAM entry points leave the module.
syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
expect_eq "the module exports only pam_sm_*" \
    "pam_sm_authenticate pam_sm_close_session pam_sm_open_session pam_sm_setcred " "$syms"

finish
