#!/bin/bash
# SPDX-License-Identifier: ISC
# delete: typed yes, refusals, --yes, --all, access tokens die with their refresh token.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish

issue_ok a || finish
TKR_A=$TOKEN
issue_ok b || finish
TKR_B=$TOKEN
issue_ok c || finish
TKR_C=$TOKEN
ID_A=$(token_id "$TKR_A")
ID_B=$(token_id "$TKR_B")
ID_C=$(token_id "$TKR_C")
expect_match "ids of the issued tokens are known" '^[0-9A-Za-z]{11}$' "$ID_A"

tctl_in "$TKR_A" exchange
TKA_A=$OUT
tctl_in "$TKA_A" verify
expect_rc "access token of a is active" 0
BEFORE=$(list_ids)

# --- anything but "yes" changes nothing
tctl_in "no" delete "$ID_A"
expect_rc "delete answered 'no' exits 1" 1
expect_match "the delete prompt says what becomes invalid" '(invalid|revok|access|stop work|no longer)' "$ERR"
expect_match "the refusal is reported on stderr" '.' "$(tail -n 1 "$T/err")"
expect_eq "delete answered 'no' deletes nothing" "$BEFORE" "$(list_ids)"
tctl_in "YES!" delete "$ID_A"
expect_rc "delete answered 'YES!' exits 1" 1
tctl delete "$ID_A"
expect_rc "delete with stdin at EOF exits 1" 1
expect_eq "refused deletes delete nothing" "$BEFORE" "$(list_ids)"
tctl_in "$TKA_A" verify
expect_rc "access token still active after refused deletes" 0

# --- typed yes
tctl_in "yes" delete "$ID_A"
expect_rc "delete answered 'yes' exits 0" 0
expect_no_match "the deleted id is gone from list" "$ID_A" "$(list_ids)"
expect_match "the other tokens remain" "$ID_B" "$(list_ids)"
tctl_in "$TKR_A" verify
expect_rc "the deleted refresh token is inactive" 1
tctl_in "$TKA_A" --json verify
expect_rc "its access token is inactive at once" 1
expect_json "the access token verifies as {\"active\":false} only" 'j == {"active": False}' "$OUT"
tctl_in "$TKR_A" exchange
expect_rc "exchange with the deleted refresh token exits 1" 1

tctl_in "yes" delete "$ID_A"
expect_rc "deleting it again: not found, exit 1" 1
tctl delete "$ID_A" --yes
expect_rc "deleting it again with --yes: not found, exit 1" 1
expect_lines "not found: one line on stderr" 1 "$T/err"
tctl delete AAAAAAAAAAA --yes
expect_rc "delete --yes of an unknown id exits 1" 1
tctl delete
expect_rc "delete without an id is a usage error" 2

# --- --yes
tctl delete "$ID_B" --yes
expect_rc "delete ID --yes exits 0 without a prompt" 0
tctl_in "$TKR_B" verify
expect_rc "the token deleted with --yes is inactive" 1
tctl_in "$TKR_C" verify
expect_rc "an unrelated token stays active" 0

# --- --all
issue_ok d || finish
TKR_D=$TOKEN
tctl_in "$TKR_D" exchange
TKA_D=$OUT
tctl_in "$TKR_D" exchange
expect_rc "a second exchange of d (its record from the cache)" 0
# Verified twice, so that the second answer comes from the answer cache.
tctl_in "$TKA_D" verify
tctl_in "$TKA_D" verify
expect_rc "access token of d active before delete --all" 0
if is_root; then
	tctl --json status
	expect_json "status counts cached answers (verified_cached > 0)" \
	    'j["verified_cached"] > 0 and j["verified_cached"] <= j["verified_active"]' "$OUT"
	expect_json "status counts exchanges from the cache (exchanged_cached > 0)" \
	    'j["exchanged_cached"] > 0 and j["exchanged_cached"] <= j["exchanged"]' "$OUT"
fi
tctl_in "no" delete --all
expect_rc "delete --all answered 'no' exits 1" 1
expect_eq "delete --all answered 'no' deletes nothing" 2 "$(list_ids | grep -c .)"
tctl_in "yes" delete --all
expect_rc "delete --all answered 'yes' exits 0" 0
expect_eq "delete --all leaves no tokens" "" "$(list_ids)"
tctl_in "$TKR_C" verify
expect_rc "refresh token c inactive after delete --all" 1
tctl_in "$TKA_D" verify
expect_rc "access token of d inactive after delete --all" 1
tctl_in "$TKR_D" exchange
expect_rc "exchange of d refused after delete --all" 1
tctl delete --all --yes
expect_true "delete --all --yes with no tokens is not an error of the program (0 or 1)" \
    eval '[ "$RC" = 0 ] || [ "$RC" = 1 ]'

# --- revocation survives a restart (durable)
issue_ok e || finish
TKR_E=$TOKEN
ID_E=$(token_id "$TKR_E")
tctl delete "$ID_E" --yes
expect_rc "delete e" 0
kill9_daemon
start_daemon || finish
tctl_in "$TKR_E" verify
expect_rc "a deleted token stays deleted after kill -9 and restart" 1

# --- answer_cache = no: every VERIFY reads the database, answers the same
stop_daemon
write_config answer_cache=no
start_daemon || finish
issue_ok f || finish
TKR_F=$TOKEN
ID_F=$(token_id "$TKR_F")
tctl_in "$TKR_F" verify
tctl_in "$TKR_F" verify
expect_rc "without the cache a token verifies" 0
tctl delete "$ID_F" --yes
tctl_in "$TKR_F" verify
expect_rc "without the cache a deleted token is inactive" 1
if is_root; then
	tctl --json status
	expect_json "answer_cache = no: nothing answered from the cache" \
	    'j["verified_cached"] == 0 and j["exchanged_cached"] == 0 and j["verified_active"] >= 2' "$OUT"
fi

# --- by name, and "not found" the same with and without --yes
issue_ok laptop || finish
TKR_L=$TOKEN
tctl_in "no" delete laptop
expect_rc "delete NAME answered 'no' exits 1" 1
expect_match "delete NAME asks about that token, by its id and name" \
    "Delete token $(token_id "$TKR_L") \\(\"laptop\"" "$ERR"
tctl_in "yes" delete laptop
expect_rc "delete NAME answered 'yes' exits 0" 0
tctl_in "$TKR_L" verify
expect_rc "the token deleted by its name is inactive" 1
tctl_in "yes" delete laptop
NOTFOUND_ASKED=$ERR
expect_rc "delete NAME of a deleted token: exit 1" 1
tctl delete laptop --yes
expect_rc "... and with --yes: exit 1" 1
expect_eq "... with the same message both ways" "$NOTFOUND_ASKED" "$ERR"
expect_match "... which says ids and names are both looked for" \
    "^tokenctl: delete laptop: no token with that id or name \\(see 'tokenctl list'\\)" "$ERR"
tctl delete AAAAAAAAAAA --yes
expect_match "an unknown id reads the same" "^tokenctl: delete AAAAAAAAAAA: no token with that id or name" "$ERR"
issue_ok e || finish
TKR_E=$TOKEN
ID_E=$(token_id "$TKR_E")
issue_ok "$ID_E" || finish
TKR_TRICK=$TOKEN
tctl delete "$ID_E" --yes
expect_rc "a name that is another token's id: the id wins" 0
tctl_in "$TKR_E" verify
expect_rc "... so the token with that id is gone" 1
tctl_in "$TKR_TRICK" verify
expect_rc "... and the token named so is not" 0
# Completion offers the ids and names (packaging/bash-completion/tokenctl).
completion() { # completion WORD...: what tokenctl's completion offers
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tokenctl
	    echo "${COMPREPLY[*]}"' - "$TOP/packaging/bash-completion/tokenctl" "$TCTL" "$@"
}
words=$(completion --socket "$SOCK" delete "")
expect_eq "completion: delete offers the one token's id and name" \
    "$(token_id "$TKR_TRICK") $ID_E" "$words"
expect_eq "completion: delete lap... -> nothing (laptop is gone)" "" \
    "$(completion --socket "$SOCK" delete lap)"
tctl delete "$ID_E" --yes
expect_rc "... until it is deleted by its name" 0
tctl_in "$TKR_TRICK" verify
expect_rc "... and then it is" 1

stop_daemon
finish
