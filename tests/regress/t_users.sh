#!/bin/bash
# SPDX-License-Identifier: ISC
# Other users: identity from SO_PEERCRED; nobody can neither see, delete nor verify
# root's tokens.  Needs root (setpriv); otherwise every case is reported as SKIP.
. "$(dirname "$0")/lib.sh"

if ! is_root; then
	for c in "nobody's list shows none of root's tokens" \
	    "nobody cannot delete root's token" "nobody cannot delete --all of root's" \
	    "nobody cannot verify" "nobody issues for itself" "admin lists other users"; do
		skip "$c"
	done
	FINISHED=1
	finish
fi

setup
start_daemon || finish

issue_ok root-1 || finish
TKR_R1=$TOKEN
issue_ok root-2 || finish
TKR_R2=$TOKEN
ID_R1=$(token_id "$TKR_R1")
ID_R2=$(token_id "$TKR_R2")

# --- nobody sees none of root's tokens
as_nobody tctl --json list
expect_rc "nobody: list exits 0" 0
expect_json "nobody: list --json is empty" 'j == []' "$OUT"
as_nobody tctl list
expect_no_match "nobody: list table shows none of root's ids" "$ID_R1|$ID_R2|root-1|root-2" "$OUT"
as_nobody tctl --json list --user "$ME"
expect_rc "nobody: list --user root is refused" 1
EXISTS_ERR=$ERR
as_nobody tctl --json list --user no-such-user-here
expect_rc "nobody: list --user of a name that does not exist is refused" 1
expect_eq "nobody cannot tell an existing user from a missing one by the refusal" \
    "$EXISTS_ERR" "$(echo "$ERR" | sed 's/no-such-user-here/'"$ME"'/g')"
as_nobody tctl delete --all --user no-such-user-here --yes
MISSING_ERR=$ERR
as_nobody tctl delete --all --user "$ME" --yes
expect_eq "nor by the refusal of delete --all --user" "$MISSING_ERR" \
    "$(echo "$ERR" | sed 's/'"$ME"'/no-such-user-here/g')"
as_nobody tctl --json list --all
expect_rc "nobody: list --all is refused" 1
expect_no_match "nobody: list --all shows none of root's ids" "$ID_R1|$ID_R2" "$OUT"

# --- nobody cannot delete root's tokens
as_nobody tctl delete "$ID_R1" --yes
expect_rc "nobody: delete of root's token exits 1" 1
as_nobody tctl_in yes delete "$ID_R1"
expect_rc "nobody: delete of root's token with 'yes' exits 1" 1
tctl_in "$TKR_R1" verify
expect_rc "root's token survives nobody's delete" 0
as_nobody tctl delete --all --user "$ME" --yes
expect_rc "nobody: delete --all --user root exits 1" 1
as_nobody tctl delete --all --yes
tctl --json list
expect_json "root's tokens survive nobody's delete --all" 'len(j) == 2' "$OUT"

# --- nobody cannot verify (VERIFY: root and the verifier group only)
as_nobody tctl_in "$TKR_R1" verify
expect_rc "nobody: verify exits 1" 1
as_nobody tctl_in "$TKR_R1" --json verify
expect_rc "nobody: verify --json exits 1" 1
expect_no_match "nobody: verify reveals nothing about the token" '"(sub|uid|jti|scope)"' "$OUT"
as_nobody tctl status
expect_rc "nobody: status (version and health) exits 0" 0

# --- nobody's own tokens: PAM runs for nobody, with nobody's credentials
as_nobody issue_token nobody-1
expect_rc "nobody: issue with nobody's password + TOTP exits 0" 0
expect_match "nobody: issue prints a refresh token" '^tkr_' "$OUT"
TKR_N1=$TOKEN
fresh_oath
as_nobody tctl_in "$PW_ME
$(oathtool --totp $KEY_ME)" issue --name with-roots-password
expect_rc "nobody: root's credentials do not work for nobody" 1
as_nobody issue_token sneaky --user "$ME"
expect_true "nobody: issue --user root is refused (1 or 2)" eval '[ "$RC" = 1 ] || [ "$RC" = 2 ]'
tctl --json list
expect_json "root still has exactly its 2 tokens" 'len(j) == 2' "$OUT"

as_nobody tctl --json list
expect_json "nobody: list shows its own token only" \
    "[t['name'] for t in j] == ['nobody-1'] and j[0]['user'] == 'nobody'" "$OUT"
ID_N1=$(json_eval 'j[0]["id"]' "$OUT")
tctl_in "$TKR_N1" --json verify
expect_json "root verifies nobody's token: sub nobody, uid 65534" \
    "j['active'] is True and j['sub'] == 'nobody' and j['uid'] == $NOBODY_UID" "$OUT"
as_nobody tctl_in "$TKR_N1" exchange
expect_rc "nobody: exchange of its own token exits 0" 0
expect_match "nobody: exchange gives an access token" '^tka_' "$OUT"

# --- the admin (root) sees and manages everybody
tctl --json list --all
expect_json "root: list --all shows both users" \
    "sorted(set(t['user'] for t in j)) == sorted({'$ME', 'nobody'}) and len(j) == 3" "$OUT"
tctl --json list --user nobody
expect_json "root: list --user nobody shows nobody's token" "[t['id'] for t in j] == ['$ID_N1']" "$OUT"
tctl --json list
expect_json "root: plain list shows only root's own tokens" 'len(j) == 2 and all(t["user"] == "'"$ME"'" for t in j)' "$OUT"
tctl delete "$ID_N1" --yes
expect_rc "root: delete of nobody's token exits 0" 0
tctl_in "$TKR_N1" verify
expect_rc "nobody's token is inactive after root deleted it" 1

as_nobody issue_ok nobody-2
as_nobody issue_ok nobody-3
tctl delete --all --user nobody --yes
expect_rc "root: delete --all --user nobody exits 0" 0
as_nobody tctl --json list
expect_json "nobody has no tokens left" 'j == []' "$OUT"
tctl --json list
expect_json "root's tokens untouched by delete --all --user nobody" 'len(j) == 2' "$OUT"

stop_daemon
finish
