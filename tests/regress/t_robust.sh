#!/bin/bash
# SPDX-License-Identifier: ISC
# Hostile and broken clients: garbage, bad magic/version/type, oversize and
# truncated frames, silent clients, a PAM conversation nobody answers.  After
# each, the daemon must keep serving everybody else.
. "$(dirname "$0")/lib.sh"

IDLE=3
setup idle_timeout=${IDLE}s pam_timeout=2s max_frame=4096 max_connections_per_uid=32 \
    refresh_default=60s
start_daemon || finish

issue_ok keeper --expires 1d || finish
KEEP=$TOKEN
# A refresh token that expires in 60 s (the shortest refresh_default); checked
# at the end of this script, after the daemon's clock has been moved on.
issue_ok short-lived || finish
SHORT=$TOKEN
tctl_in "$SHORT" --json verify
SHORT_EXP=$(json_eval 'j["exp"]' "$OUT")
expect_json "short-lived refresh token expires in 60 s" 'abs(j["exp"] - now - 60) <= 5' "$OUT"
tctl_in "$SHORT" exchange
SHORT_ACCESS=$OUT
tctl_in "$SHORT_ACCESS" --json verify
expect_json "its access token (default 5 min) does not outlive the refresh token" \
    "j['active'] is True and j['exp'] <= $SHORT_EXP" "$OUT"
cp "$(dirname "$0")/rawclient.py" "$T/rawclient.py"
chmod 644 "$T/rawclient.py"
RAW=("$PYTHON" "$T/rawclient.py" "$SOCK")

# still_serving WHAT: status answers and the keeper token still verifies.
still_serving() {
	tctl status
	expect_rc "status still works after $1" 0
	tctl_in "$KEEP" verify
	expect_rc "a token still verifies after $1" 0
}

# raw_send NAME HEX: the daemon closes (maybe after an ERROR frame) well before idle_timeout.
raw_send() {
	local name=$1 res
	res=$(timeout 20 "${RAW[@]}" send "$2" 10)
	expect_json "$name: dropped or answered with an error" \
	    '(j["closed"] and j["elapsed"] < '"$IDLE"') or (0x80 in j["frames"] and set(j["frames"]) <= {0x80})' "$res"
	expect_json "$name: never answered with a success frame" \
	    'all(f in (0x80,) for f in j["frames"])' "$res"
	still_serving "$name"
}

# --- sanity of the raw client itself: a well-formed STATUS gets STATUS_RESULT
RES=$(timeout 20 "${RAW[@]}" send "$("$PYTHON" "$T/rawclient.py" - frame 8)" 2)
expect_json "raw client: a well-formed STATUS frame is answered with STATUS_RESULT" \
    '0x87 in j["frames"]' "$RES"

raw_send "random garbage" "ff$(head -c 64 /dev/urandom | od -v -An -tx1 | tr -d ' \n')"
raw_send "bad magic" "58590108$(printf '%08x' 0)"
raw_send "bad version" "544b0908$(printf '%08x' 0)"
raw_send "unknown request type 0x7f" "544b017f$(printf '%08x' 0)"
raw_send "a response type (ERROR) sent as a request" "544b0180$(printf '%08x' 4)00010000"
raw_send "oversize length (1 MiB > max_frame)" "544b0101$(printf '%08x' 1048576)"
raw_send "length 0xffffffff" "544b0107ffffffff"
raw_send "STATUS with a body it must not have" "544b010800000004deadbeef"
raw_send "ISSUE with a body that does not parse" "544b010100000006ffff41414141"
raw_send "VERIFY with a string length beyond the body" "544b010700000004 00ff4141"

# a frame just over max_frame (4096), body really sent
BIG=$("$PYTHON" -c 'print("00" * 4097)')
raw_send "a 4097-byte body with max_frame 4096" "544b0107$(printf '%08x' 4097)$BIG"

# --- frames behind an ISSUE: a bad header there drops the client at once
# (not after the PAM conversation); so does a CONV_REPLY sent before its CONV.
ISSUE_HEX=544b01010000000e00000001780000000000000000$(printf '%02x' 0)
RES=$(timeout 20 "${RAW[@]}" send "${ISSUE_HEX}544b0108000000005859010800000000" 10)
expect_json "ISSUE, STATUS, then a bad header: ERROR 1 and closed, no prompt first" \
    'j["closed"] and j["frames"] == [0x80] and j["errors"] == [1]' "$RES"
RES=$(timeout 20 "${RAW[@]}" send "${ISSUE_HEX}544b01020000000301000000" 10)
expect_json "ISSUE then a CONV_REPLY before any CONV: ERROR 1 and closed" \
    'j["closed"] and j["frames"] == [0x80] and j["errors"] == [1]' "$RES"
no_pam_helpers() { [ -z "$(pam_helpers)" ]; }
expect_true "their PAM helpers are gone" wait_for "$CMD_TIMEOUT" no_pam_helpers
still_serving "frames that break the protocol behind an ISSUE"

# --- truncated frames, then the client closes
timeout 10 "${RAW[@]}" close "544b0107000000400041" >/dev/null
still_serving "a truncated body then close"
timeout 10 "${RAW[@]}" close "544b01" >/dev/null
still_serving "a truncated header then close"

# --- a client that connects and says nothing, and one that sends half a
# header and stalls, are dropped after idle_timeout, not before; meanwhile
# everybody else is served.  (All three at once.)
timeout 60 "${RAW[@]}" idle $((IDLE + 30)) >"$T/idle.json" &
IDLER=$!
timeout 60 "${RAW[@]}" send "544b01" $((IDLE + 30)) >"$T/stalled.json" &
STALLER=$!
BG_PIDS="$BG_PIDS $IDLER $STALLER"
tctl status
expect_rc "status while a silent and a stalled client are connected" 0
expect_true "answered before the silent client is dropped" kill -0 "$IDLER"
wait "$IDLER" "$STALLER" 2>/dev/null
expect_json "a silent client is disconnected after idle_timeout ($IDLE s), not before" \
    'j["closed"] and '"$IDLE"' - 0.5 <= j["elapsed"] < '"$IDLE"' + 25' "$(cat "$T/idle.json")"
still_serving "a silent client"
expect_json "a client stalled mid-header is disconnected after idle_timeout too" \
    'j["closed"] and '"$IDLE"' - 0.5 <= j["elapsed"] < '"$IDLE"' + 25' "$(cat "$T/stalled.json")"

# --- many connections from one uid: the extra ones are refused, not the daemon
# (as nobody when we are root: root may well be exempt from the per-uid limit)
if is_root; then
	RES=$(timeout 20 $AS_NOBODY_CMD "${RAW[@]}" hold 40 0)
else
	RES=$(timeout 20 "${RAW[@]}" hold 40 0)
fi
expect_json "connections beyond max_connections_per_uid (32) are refused" \
    'j["open"] == 32 and j["closed"] + j["refused"] == 8' "$RES"
still_serving "a connection flood"

# --- PAM conversation timeout (pam_timeout = 2s)
# 1. nobody answers the password prompt: tokenctl waits on a pipe that stays open.
mkfifo "$T/fifo"
sleep 15 >"$T/fifo" &
HOLDER=$!
BG_PIDS="$BG_PIDS $HOLDER"
START=$(date +%s)
timeout 20 "$TCTL" --socket "$SOCK" issue --name hang <"$T/fifo" >"$T/out" 2>"$T/err"
RC=$?
END=$(date +%s)
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
LAST_CMD="tokenctl issue --name hang (stdin never answers)"
expect_rc "issue with an unanswered prompt exits 1" 1
expect_true "it fails after pam_timeout (2 s), not before and not much later (took $((END - START)) s)" \
    test $((END - START)) -ge 1 -a $((END - START)) -le 15
expect_match "it says the conversation timed out" '[Tt]ime' "$(tail -n 1 "$T/err")"
expect_lines "nothing on stdout" 0 "$T/out"
still_serving "a timed-out PAM conversation"

# 2. the password is answered, the one-time code is not
rm -f "$T/fifo"
mkfifo "$T/fifo"
fresh_oath
{ printf '%s\n' "$PW_ME"; sleep 15; } >"$T/fifo" &
HOLDER=$!
BG_PIDS="$BG_PIDS $HOLDER"
START=$(date +%s)
timeout 20 "$TCTL" --socket "$SOCK" issue --name hang2 <"$T/fifo" >"$T/out" 2>"$T/err"
RC=$?
END=$(date +%s)
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
expect_rc "issue with an unanswered OTP prompt exits 1" 1
expect_true "it fails after pam_timeout, not much later (took $((END - START)) s)" \
    test $((END - START)) -ge 1 -a $((END - START)) -le 15
issue_token after-timeout
expect_rc "the next issue works (no stale pam_oath lock, helper reaped)" 0

# 3. raw: ISSUE then never answer the CONV; the daemon keeps serving meanwhile
timeout 30 "${RAW[@]}" issue-hang 20 "$T/hang.ready" >"$T/hang.json" &
HANGER=$!
BG_PIDS="$BG_PIDS $HANGER"
wait_for "$CMD_TIMEOUT" test -e "$T/hang.ready"
tctl_in "$KEEP" verify
expect_rc "verify while a PAM conversation hangs" 0
expect_true "answered while the conversation still hangs" kill -0 "$HANGER"
wait "$HANGER"
RES=$(cat "$T/hang.json")
expect_json "raw ISSUE: the daemon sent a CONV prompt first" '0x81 in j["first"]["frames"]' "$RES"
expect_json "raw ISSUE unanswered: ERROR (timed out) after pam_timeout, not much later" \
    'j["error_at"] is not None and 1 <= j["error_at"] <= 15' "$RES"
expect_json "raw ISSUE unanswered: the error code is TIMEOUT (10)" '10 in j["errors"]' "$RES"
still_serving "an unanswered raw ISSUE"
tctl --json list
expect_json "no token was created by the timed-out issues" \
    'not set(t["name"] for t in j) & {"hang", "hang2"}' "$OUT"

# --- the 60 s refresh token is never accepted after its expiry (before any purge)
tctl_in "$SHORT" verify
expect_rc "the 60 s refresh token is active before its expiry" 0
clock_advance 61
tctl_in "$SHORT" --json verify
expect_rc "refresh token inactive right after its expiry" 1
expect_json "expired refresh token: only {\"active\":false}" 'j == {"active": False}' "$OUT"
tctl_in "$SHORT" exchange
expect_rc "exchange with an expired refresh token exits 1" 1
tctl_in "$SHORT_ACCESS" verify
expect_rc "its access token is inactive too" 1

# --- no PAM helper processes left behind
sleep 0.5
KIDS=$(pam_helpers | wc -l)
expect_eq "no PAM helper processes left after the timeouts" 0 "$KIDS"

stop_daemon
expect_eq "SIGTERM exits 0 after all that" 0 "$DAEMON_RC"
finish
