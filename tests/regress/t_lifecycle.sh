#!/bin/bash
# SPDX-License-Identifier: ISC
# A token's life as its owner sees it: show (every field and the state),
# and expired tokens, hidden from list unless --expired.  The daemon's
# test clock moves time; nothing waits out a lifetime.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish

issue_ok laptop --expires 2h --scope mail --scope git || finish
TKR_L=$TOKEN
ID_L=$(token_id "$TKR_L")
issue_ok ci --expires 30d || finish
ID_CI=$(token_id "$TOKEN")

# --- show, by name and by id
tctl show laptop
expect_rc "show NAME exits 0" 0
expect_match "show gives the id" "^id: +$ID_L\$" "$OUT"
expect_match "... the name" '^name: +laptop$' "$OUT"
expect_match "... the owner and uid" "^user: +$ME \\(uid $MY_UID\\)\$" "$OUT"
expect_match "... the state" '^state: +active$' "$OUT"
expect_match "... the expiry, with when" '^expires: +20[0-9-]+T[0-9:]+Z \(in 2 hours\)$' "$OUT"
expect_match "... when it was last used (issue_ok verified it)" '^last used: +(never|20[0-9-]+T[0-9:]+Z \(.*\))$' "$OUT"
expect_match "... and the scopes" '^scopes: +mail git$' "$OUT"
tctl --json show "$ID_L"
expect_rc "show ID --json exits 0" 0
expect_json "show --json: the fields of list, with uid and state" \
    "j['id'] == '$ID_L' and j['name'] == 'laptop' and j['uid'] == $MY_UID and j['state'] == 'active' and sorted(j['scopes']) == ['git', 'mail']" "$OUT"
tctl show no-such-token
expect_rc "show of an unknown name exits 1" 1
expect_match "... and says ids and names were looked for" \
    "^tokenctl: show no-such-token: no token with that id or name" "$ERR"
tctl show
expect_rc "show without a token is a usage error" 2
if is_root; then
	# Owners may look at their tokens without being verifiers.
	as_nobody issue_ok nobodys || finish
	as_nobody tctl show nobodys
	expect_rc "a non-verifier shows its own token" 0
	expect_match "... as active" '^state: +active$' "$OUT"
	as_nobody tctl show laptop
	expect_rc "but not another user's" 1
fi

# --- rename
tctl rename laptop work-laptop
expect_rc "rename NAME NEWNAME exits 0" 0
expect_match "... and says so" "^Renamed token $ID_L from \"laptop\" to \"work-laptop\"\\.\$" "$ERR"
tctl show work-laptop
expect_match "the token answers to its new name" "^id: +$ID_L\$" "$OUT"
tctl show laptop
expect_rc "and no longer to the old one" 1
tctl_in "$TKR_L" verify
expect_rc "a renamed token keeps working" 0
tctl rename "$ID_L" ci
expect_rc "renaming to a name another token has is refused" 1
expect_match "... saying which name" "already has a token named \"ci\"" "$ERR"
tctl --json rename "$ID_L" work-laptop
expect_rc "renaming to its own name is no clash" 0
expect_json "rename --json gives the id and the name" "j == {'id': '$ID_L', 'name': 'work-laptop'}" "$OUT"
tctl rename "$ID_L" "$(printf 'bad\tname')"
expect_rc "a name with a control character is refused" 1
tctl rename work-laptop
expect_rc "rename without a new name is a usage error" 2
if is_root; then
	as_nobody tctl rename "$ID_L" stolen
	expect_rc "another user cannot rename it" 1
	expect_match "... it is not found for them" 'no token with that id or name' "$ERR"
	tctl rename --user nobody nobodys nobodys-laptop
	expect_rc "an admin renames another user's token with --user" 0
	as_nobody tctl show nobodys-laptop
	expect_rc "... and its owner sees the new name" 0
fi
tctl rename work-laptop laptop
expect_rc "back to laptop" 0

# --- expired: hidden from list, shown on request, said so by show
clock_advance $((4 * 3600))
tctl list
expect_rc "list exits 0" 0
expect_no_match "an expired token is not listed" "$ID_L" "$OUT"
expect_match "... but the live one is" "$ID_CI" "$OUT"
expect_match "... and list says one is hidden, and how to see it" \
    '^1 expired token not shown \(--expired shows them\)\.$' "$ERR"
tctl --json list
expect_json "list --json leaves it out too" "'$ID_L' not in [t['id'] for t in j]" "$OUT"
tctl list --expired
expect_match "list --expired shows it, as expired 2 hours ago" "$ID_L .*\\(expired 2 hours ago\\)" "$OUT"
tctl --json list --expired
expect_json "list --json --expired has it" "'$ID_L' in [t['id'] for t in j]" "$OUT"
tctl show laptop
expect_rc "show of an expired token exits 0" 0
expect_match "show says expired" '^state: +expired$' "$OUT"
expect_match "... and since when" '^expires: .*\(expired 2 hours ago\)$' "$OUT"
tctl_in "$TKR_L" verify
expect_rc "and it does not verify" 1

# --- the credential helper: --token-file (owner-only) and --cache
issue_ok script --expires 30d || finish
TKR_S=$TOKEN
printf '%s\n' "$TKR_S" >"$T/script.token"
chmod 644 "$T/script.token"
tctl exchange --token-file "$T/script.token"
expect_rc "--token-file readable by others is refused (usage, exit 2)" 2
expect_match "... saying why and what to do" 'readable or writable by group or others \(chmod 600 it\)' "$ERR"
chmod 600 "$T/script.token"
tctl exchange --token-file "$T/script.token"
expect_rc "--token-file 0600 works" 0
expect_match "... and prints an access token" '^tka_[0-9A-Za-z]+$' "$OUT"
mkfifo -m 600 "$T/fifo.token"
tctl exchange --token-file "$T/fifo.token"
expect_rc "--token-file that is a FIFO is refused at once, not waited on" 2
expect_match "... as not a regular file" 'not a regular file' "$ERR"
ln -s "$T/script.token" "$T/link.token"
tctl exchange --token-file "$T/link.token"
expect_rc "--token-file through a symbolic link is refused" 2

exchanged() { tctl --json status; json_eval 'j["exchanged"]' "$OUT"; }
mkdir -m 700 "$T/run"
cached() { # cached ARGS...: exchange --cache with XDG_RUNTIME_DIR=$T/run
	local AS="env XDG_RUNTIME_DIR=$T/run"
	tctl exchange --token-file "$T/script.token" --cache "$@"
}
N0=$(exchanged)
cached
expect_rc "exchange --cache exits 0" 0
FIRST=$OUT
cached
expect_eq "a second --cache call prints the same access token" "$FIRST" "$OUT"
expect_eq "... without asking the daemon again" $((N0 + 1)) "$(exchanged)"
cached --scope mail
expect_rc "other scopes are another cache entry (refused here: not the token's)" 1
expect_eq "the cache is 0700, its file 0600" "700 600" \
    "$(stat -c %a "$T/run/tokend") $(stat -c %a "$T/run/tokend"/access-* | sort -u)"
expect_no_match "the cache file is not named after the token" "${TKR_S:4:11}" "$(ls "$T/run/tokend")"
tctl_in "$FIRST" verify
expect_rc "the cached access token is the live one" 0
AS="env XDG_RUNTIME_DIR=$T/run" tctl --json exchange --token-file "$T/script.token" --cache
expect_json "--cache --json answers from the cache with expires_in" \
    "j['access_token'] == '$FIRST' and 0 < j['expires_in'] <= 300" "$OUT"
clock_advance 271	# 29 s left of the default 5 minutes: a new one
cached
expect_rc "--cache near the expiry exits 0" 0
expect_no_match "... with a new access token" "$FIRST" "$OUT"
expect_eq "... from the daemon" $((N0 + 2)) "$(exchanged)"
AS="env -u XDG_RUNTIME_DIR" tctl exchange --token-file "$T/script.token" --cache
expect_rc "--cache without XDG_RUNTIME_DIR is a usage error" 2
expect_match "... that says what it needs" 'needs \$XDG_RUNTIME_DIR' "$ERR"

stop_daemon
finish
