#!/bin/bash
# SPDX-License-Identifier: ISC
# issue (password + TOTP through the real PAM stack) and list.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish

# --- a good issue: one line on stdout, the warning on stderr
issue_token ci
expect_rc "issue with password + TOTP exits 0" 0
expect_lines "issue prints exactly one line on stdout" 1 "$T/out"
expect_match "issue stdout is a refresh token" '^tkr_[0-9A-Za-z]+$' "$OUT"
expect_eq "refresh token is 54 characters" 54 "${#TOKEN}"
expect_match "issue warns on stderr that the token cannot be shown again" \
    '(again|once|save|copy)' "$ERR"
expect_no_match "the token does not appear on stderr" "$TOKEN" "$ERR"
expect_no_match "the password does not appear on stderr" "$PW_ME" "$ERR"
TOK_CI=$TOKEN
expect_no_match "the token is not logged by the daemon" "$TOK_CI" "$(cat "$T/daemon.log")"
expect_true "the token secret is not written to the database in clear" \
    eval '! grep -aqF -- "${TOK_CI:15:30}" "$T/db"/*' 

tctl --json list
expect_rc "list --json exits 0" 0
expect_json "list --json is an array with the one token" 'isinstance(j, list) and len(j) == 1' "$OUT"
expect_json "list --json has exactly the documented fields" \
    'set(j[0]) == {"id","user","name","created","expires","last_used","scopes"}' "$OUT"
expect_json "list --json: user and name" "j[0]['user'] == '$ME' and j[0]['name'] == 'ci'" "$OUT"
expect_json "list --json: last_used is null before any use" 'j[0]["last_used"] is None' "$OUT"
expect_json "list --json: created is RFC 3339 UTC and now" 'abs(ts(j[0]["created"]) - now) < 120' "$OUT"
expect_json "list --json: default expiry is 90 days" \
    'abs(ts(j[0]["expires"]) - now - 90*86400) < 86400' "$OUT"
expect_json "list --json: scopes is a list" 'isinstance(j[0]["scopes"], list)' "$OUT"
ID_CI=$(json_eval 'j[0]["id"]' "$OUT")
expect_match "token id is base62" '^[0-9A-Za-z]{11}$' "$ID_CI"
expect_true "the refresh token carries its id" eval '[[ "$TOK_CI" == *"$ID_CI"* ]]'
LIST_BEFORE=$OUT

# --- wrong one-time code: refused, nothing created
fresh_oath
tctl_in "$PW_ME
000000" issue --name wrong-otp
expect_rc "issue with a wrong OTP exits 1" 1
expect_lines "wrong OTP prints nothing on stdout" 0 "$T/out"
expect_match "wrong OTP says so on stderr" '[Aa]uth|denied|fail|refused' "$ERR"
tctl --json list
expect_eq "wrong OTP creates no token" "$LIST_BEFORE" "$OUT"

# --- wrong password: refused before the OTP prompt, nothing created
fresh_oath
tctl_in "not the password
$(oathtool --totp $KEY_ME)" issue --name wrong-pw
expect_rc "issue with a wrong password exits 1" 1
expect_lines "wrong password prints nothing on stdout" 0 "$T/out"
expect_no_match "wrong password stops before the OTP prompt (requisite)" 'One-time password' "$ERR"
tctl --json list
expect_eq "wrong password creates no token" "$LIST_BEFORE" "$OUT"

# --- a replayed TOTP code is refused (pam_oath state kept in users.oath)
fresh_oath
CODE=$(oathtool --totp $KEY_ME)
tctl_in "$PW_ME
$CODE" issue --name replay-1
expect_rc "issue with a fresh code works" 0
tctl_in "$PW_ME
$CODE" issue --name replay-2
expect_rc "the same TOTP code a second time is refused" 1

# --- no answer at all (stdin at EOF): refused, not hung
fresh_oath
tctl issue --name no-input
expect_rc "issue with empty stdin exits 1" 1

# --- name uniqueness
issue_token ci
expect_rc "a second token named ci is refused" 1
expect_match "the refusal names the problem" '(exist|already|name|use)' "$ERR"
expect_lines "the refused issue prints nothing on stdout" 0 "$T/out"

# --- --expires
issue_token exp30 --expires 30d
expect_rc "issue --expires 30d exits 0" 0
expect_match "issue says it expires in 30 days (not 29)" 'expires [^(]*\(in 30 days\)' "$ERR"
tctl --json list
expect_json "--expires 30d gives 30 days from the moment of issue (created + 30d)" \
    '[ts(t["expires"]) - ts(t["created"]) == 30*86400 for t in j if t["name"] == "exp30"] == [True]' "$OUT"
issue_token exp12h --expires 12h
tctl --json list
expect_json "--expires 12h gives 12 hours" \
    '[abs(ts(t["expires"]) - now - 12*3600) < 600 for t in j if t["name"] == "exp12h"] == [True]' "$OUT"
DATE=$(date -u -d '+40 days' +%Y-%m-%d)
issue_token expdate --expires "$DATE"
expect_rc "issue --expires YYYY-MM-DD exits 0" 0
tctl --json list
expect_json "--expires $DATE expires on that date" \
    "[t['expires'][:10] in ('$DATE', '$(date -u -d '+41 days' +%Y-%m-%d)') for t in j if t['name'] == 'expdate'] == [True]" "$OUT"
issue_token toolong --expires 400d
expect_rc "--expires beyond refresh_max (365d) is refused" 1
issue_token past --expires 2001-01-01
expect_true "--expires in the past is refused (1 or 2)" eval '[ "$RC" = 1 ] || [ "$RC" = 2 ]'

# --- list table
tctl list
expect_rc "list exits 0" 0
HEADER=$(head -n 1 "$T/out")
expect_match "list table header has the documented columns" \
    '^ID +NAME +CREATED +EXPIRES +LAST USED +SCOPES *$' "$HEADER"
expect_match "list table shows the token id" "^$ID_CI " "$OUT"
expect_match "list table shows 30 days for --expires 30d" 'exp30 .*in 30 days' "$OUT"
expect_match "list table shows 90 days for the default" '\bci .*in 90 days' "$OUT"
expect_no_match "list never shows a token secret" 'tk[ra]_' "$OUT"

# --- --json issue and scopes
issue_token jsonissue --json --scope read --scope write
expect_rc "issue --json exits 0" 0
expect_json "issue --json has token,id,name,expires,scopes" \
    'set(j) == {"token","id","name","expires","scopes"}' "$OUT"
expect_json "issue --json values" \
    'j["token"].startswith("tkr_") and len(j["token"]) == 54 and j["name"] == "jsonissue" and sorted(j["scopes"]) == ["read","write"]' "$OUT"
JID=$(json_eval 'j["id"]' "$OUT")
tctl --json list
expect_json "the id from issue --json is in list" "[sorted(t['scopes']) for t in j if t['id'] == '$JID'] == [['read','write']]" "$OUT"

# --- invalid names
issue_token ""
expect_true "an empty --name is refused (1 or 2)" eval '[ "$RC" = 1 ] || [ "$RC" = 2 ]'
issue_token "$(printf 'x%.0s' $(seq 65))"
expect_true "a 65-character name is refused (1 or 2)" eval '[ "$RC" = 1 ] || [ "$RC" = 2 ]'
issue_token "$(printf 'tab\there')"
expect_true "a name with a control character is refused (1 or 2)" eval '[ "$RC" = 1 ] || [ "$RC" = 2 ]'

# --- per-user limit (max_tokens_per_user = 8 below)
stop_daemon
write_config max_tokens_per_user=8
start_daemon || finish
tctl --json list
N=$(json_eval 'len(j)' "$OUT")
i=$N
while [ "$i" -lt 8 ]; do
	issue_token "fill-$i"
	i=$((i + 1))
done
tctl --json list
expect_json "the user now has 8 tokens" 'len(j) == 8' "$OUT"
issue_token one-too-many
expect_rc "the token beyond max_tokens_per_user is refused" 1
expect_lines "the refused issue prints no token" 0 "$T/out"

stop_daemon
expect_eq "SIGTERM stops the daemon with status 0" 0 "$DAEMON_RC"
expect_true "the key file was created with mode 0600" \
    eval '[ "$(stat -c %a "$T/hash.key")" = 600 ]'

# --- the log speaks in dates and plurals a person reads
expect_match "the log gives an issued token's expiry as a date" \
    'issued token [^ ]+ "exp30" .*expires 20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC' "$(cat "$T/daemon.log")"
expect_no_match "no unix time in the log" '(expires|expired|until) [0-9]{9,}' "$(cat "$T/daemon.log")"
expect_no_match "no '1 tokens' in the log" '(^|[^0-9])1 tokens' "$(cat "$T/daemon.log")"
rm -rf "$T/db1" && mkdir "$T/db1"
DB_DIR=$T/db1 KEY_FILE=$T/db1.key start_daemon || finish
issue_ok only-one
stop_daemon
DB_DIR=$T/db1 KEY_FILE=$T/db1.key start_daemon || finish
stop_daemon
expect_match "a database of one token: '1 token'" "database $T/db1: 1 token\$" "$(cat "$T/daemon.log")"

# --- the PAM helper mode is for the daemon alone: without its socket it stops
"$TOKEND" --pam-helper tokend "" "$ME" "$ME" </dev/null >"$T/out" 2>"$T/err"
RC=$?
expect_rc "tokend --pam-helper run by hand exits 2" 2
expect_match "it says it is for tokend's own use" "for tokend's own use" "$(cat "$T/err")"
expect_lines "and prints nothing on stdout" 0 "$T/out"
finish
