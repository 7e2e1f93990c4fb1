#!/bin/bash
# SPDX-License-Identifier: ISC
# tokenctl rotate: the refresh token is the credential; the successor has
# the same name, scopes and expiry; the old one works for the overlap; a
# rotated token used after its overlap is a replay that revokes its
# successor too.  Time moves through the daemon's test clock.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish

issue_ok ci --expires 30d --scope deploy --scope read || finish
OLD=$TOKEN
OLD_ID=$(token_id "$OLD")
tctl --json show ci
OLD_EXPIRES=$(json_eval 'j["expires"]' "$OUT")

# --- rotate with an overlap
tctl_in "$OLD" rotate --overlap 10m
expect_rc "rotate --overlap 10m exits 0" 0
NEW=$(head -n 1 "$T/out")
expect_match "the successor is printed alone on stdout" '^tkr_[0-9A-Za-z]+$' "$NEW"
expect_lines "... one line" 1 "$T/out"
expect_match "stderr says to save it" 'Save this token now' "$ERR"
expect_match "... and how long the old one works" 'The old token works until .*\(in 10 minutes\)' "$ERR"
NEW_ID=$(token_id "$NEW")
expect_true "the successor has a new id" test -n "$NEW_ID" -a "$NEW_ID" != "$OLD_ID"
tctl --json show ci
expect_json "the name belongs to the successor, with the same scopes and expiry" \
    "j['id'] == '$NEW_ID' and j['scopes'] == ['deploy', 'read'] and j['expires'] == '$OLD_EXPIRES' and j['state'] == 'active'" "$OUT"
tctl --json show "$OLD_ID"
expect_json "show of the old one: rotated, to the successor, until the overlap's end" \
    "j['state'] == 'rotated' and j['rotated_to'] == '$NEW_ID' and ts(j['expires']) - now <= 600 + 5" "$OUT"
tctl list
expect_match "list marks the old one rotated" "$OLD_ID +ci \\(rotated to $NEW_ID\\)" "$OUT"
tctl_in "$OLD" verify
expect_rc "during the overlap the old token verifies" 0
tctl_in "$OLD" exchange
expect_rc "... and exchanges" 0
OLD_ACCESS=$OUT
tctl_in "$OLD_ACCESS" --json verify
expect_json "its access token lives no longer than the overlap" "j['active'] and j['exp'] - now <= 600 + 5" "$OUT"
tctl_in "$NEW" verify
expect_rc "the successor verifies" 0
tctl_in "$OLD" rotate
expect_rc "rotating the old one again is refused" 1
expect_match "... naming its successor" "rotated already \\(to $NEW_ID\\)" "$ERR"

# --- after the overlap: the old one is refused; its access tokens die
clock_advance 601
tctl_in "$OLD_ACCESS" verify
expect_rc "after the overlap the old token's access token is inactive" 1
tctl_in "$NEW" verify
expect_rc "... and that is not a replay: the successor still verifies" 0
tctl list
expect_no_match "list no longer shows the old one" "$OLD_ID" "$OUT"

# --- a replay of the old one: refused, and the successor is revoked
# (STATUS counters are for admins: root here, or nobody's counters.)
if is_root; then
	tctl --json status
	REUSE0=$(json_eval 'j["reuse_detected"]' "$OUT")
fi
tctl_in "$OLD" exchange
expect_rc "the old token after its overlap is refused" 1
expect_true "the log warns of the reuse, naming both" \
    wait_log "reuse of rotated token $OLD_ID \"ci\" of $ME \\(uid $MY_UID\\) after its overlap.*tokens rotated from it \\($NEW_ID on\\) are revoked"
wait_for "$CMD_TIMEOUT" sh -c "! printf '%s\\n' '$NEW' | '$TCTL' --socket '$SOCK' verify >/dev/null 2>&1"
tctl_in "$NEW" verify
expect_rc "... and the successor is revoked with it" 1
if is_root; then
	tctl --json status
	expect_json "status counts one reuse" "j['reuse_detected'] == $REUSE0 + 1 and j['rotated'] >= 1" "$OUT"
fi
tctl show ci
expect_rc "nothing named ci is left" 1

# --- no overlap: the old one is refused at once; VERIFY counts as use
issue_ok job --expires 7d || finish
JOB=$TOKEN
tctl_in "$JOB" rotate
expect_rc "rotate without --overlap exits 0" 0
expect_match "... and says the old token no longer works" 'The old token no longer works' "$ERR"
JOB2=$(head -n 1 "$T/out")
tctl_in "$JOB2" rotate
expect_rc "the successor rotates in turn (a chain)" 0
JOB3=$(head -n 1 "$T/out")
tctl_in "$JOB3" verify
expect_rc "the third generation verifies" 0
tctl_in "$JOB2" verify
expect_rc "a replay of the second by a service's VERIFY is refused" 1
wait_for "$CMD_TIMEOUT" sh -c "! printf '%s\\n' '$JOB3' | '$TCTL' --socket '$SOCK' verify >/dev/null 2>&1"
tctl_in "$JOB3" verify
expect_rc "... and revokes the third generation" 1
tctl_in "$JOB" exchange
expect_rc "the first generation went with the chain" 1

# --- a thief who rotates a stolen token twice is still caught
issue_ok stolen --expires 1d || finish
S1=$TOKEN
tctl_in "$S1" rotate
S2=$(head -n 1 "$T/out")
tctl_in "$S2" rotate
S3=$(head -n 1 "$T/out")
tctl_in "$S3" verify
expect_rc "the thief's third generation works" 0
tctl_in "$S1" exchange
expect_rc "the owner's old token is refused" 1
wait_for "$CMD_TIMEOUT" sh -c "! printf '%s\n' '$S3' | '$TCTL' --socket '$SOCK' verify >/dev/null 2>&1"
tctl_in "$S3" verify
expect_rc "... and its replay revokes the thief's token, two rotations on" 1

# --- deleting the successor deletes the predecessor in its overlap too
issue_ok pair --expires 1d || finish
P1=$TOKEN
tctl_in "$P1" rotate --overlap 30m
P2=$(head -n 1 "$T/out")
tctl_in "$P1" exchange
P1_ACCESS=$OUT
tctl delete pair --yes
expect_rc "delete of the successor by name exits 0" 0
tctl_in "$P1" verify
expect_rc "the rotated predecessor, still in its overlap, is gone with it" 1
tctl_in "$P1_ACCESS" verify
expect_rc "... and so is its access token" 1
tctl --json list --expired
expect_json "nothing named pair is left" "[t for t in j if t['name'] == 'pair'] == []" "$OUT"

# --- a ROTATE whose client leaves before the answer is undone: nobody has
# the new token, so the old one must go on working.
cp "$(dirname "$0")/rawclient.py" "$T/rawclient.py"
issue_ok lost --expires 1d || finish
LOST=$TOKEN
FRAME=$("$PYTHON" -c 'import struct,sys
t=sys.argv[1].encode(); b=struct.pack(">H",len(t))+t+struct.pack(">I",0)
sys.stdout.write((b"TK\x01\x0b"+struct.pack(">I",len(b))+b).hex())' "$LOST")
rotations() { grep -c 'rotated token .* "lost"\|rotation of token .* undone' "$T/daemon.log"; }
"$PYTHON" "$T/rawclient.py" "$SOCK" close "$FRAME" >/dev/null 2>&1
# The daemon may drop the request with the connection, or rotate and undo.
if wait_for "$CMD_TIMEOUT" grep -q 'rotation of token .* undone' "$T/daemon.log"; then
	pass "a ROTATE whose client left was undone (logged)"
else
	expect_no_match "... or never made" 'rotated token .* "lost"' "$(cat "$T/daemon.log")"
fi
tctl_in "$LOST" verify
expect_rc "the old token still works" 0
tctl --json show lost
expect_json "... not rotated, and the only token named lost" \
    "j['state'] == 'active' and 'rotated_to' not in j" "$OUT"
tctl --json list --expired
expect_json "no orphan successor is left" "len([t for t in j if t['name'] == 'lost']) == 1" "$OUT"

# --- limits and refusals
issue_ok limits --expires 1d || finish
LIM=$TOKEN
tctl_in "$LIM" rotate --overlap 2h
expect_rc "an overlap above rotate_overlap_max (1h) exits 1" 1
expect_match "... saying the maximum" 'the overlap is at most 1h on this host' "$ERR"
tctl_in "$LIM" rotate --overlap 5x
expect_rc "a bad --overlap is a usage error" 2
tctl_in "$LIM" exchange
ACC=$OUT
tctl_in "$ACC" rotate
expect_rc "an access token cannot be rotated" 1
expect_match "... and says so" 'only refresh tokens \(tkr_\.\.\.\) can be rotated' "$ERR"
tctl_in "tkr_notavalidtoken" rotate
expect_rc "garbage is refused" 1
tctl_in "$LIM" verify
expect_rc "after those refusals the token still works" 0
# A chain keeps one predecessor per token: the records of "limits".
records() { tctl --json list --expired; json_eval "len([t for t in j if t['name'] == 'limits'])" "$OUT"; }
expect_eq "one record named limits before" 1 "$(records)"
tctl_in "$LIM" rotate --overlap 1m
LIM2=$(head -n 1 "$T/out")
expect_eq "two after one rotation (the old one, in its overlap)" 2 "$(records)"
tctl_in "$LIM2" rotate --overlap 1m
expect_rc "rotating again within the overlap of the first" 0
LIM3=$(head -n 1 "$T/out")
tctl_in "$LIM3" rotate
LIM4=$(head -n 1 "$T/out")
tctl_in "$LIM4" rotate
LIM5=$(head -n 1 "$T/out")
expect_eq "after four rotations: the live token and three kept (the oldest went)" 4 "$(records)"
tctl_in "$LIM5" verify
expect_rc "the fifth generation works" 0
stop_daemon
finish
