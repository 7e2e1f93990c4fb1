#!/bin/bash
# SPDX-License-Identifier: ISC
# exchange and verify: refresh -> access tokens, introspection fields.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish

issue_ok api --scope read --scope write --json || finish
TKR=$(json_eval 'j["token"]' "$OUT")
ID=$(json_eval 'j["id"]' "$OUT")

# --- verify a refresh token
tctl_in "$TKR" verify
expect_rc "verify of an active refresh token exits 0" 0
tctl_in "$TKR" --json verify
expect_rc "verify --json of an active refresh token exits 0" 0
expect_json "verify --json has the RFC 7662 fields" \
    'set(j) >= {"active","sub","uid","exp","iat","scope","token_type","jti"}' "$OUT"
expect_json "verify --json: active, sub, uid" "j['active'] is True and j['sub'] == '$ME' and j['uid'] == $MY_UID" "$OUT"
expect_json "verify --json: jti is the token id" "j['jti'] == '$ID'" "$OUT"
expect_json "verify --json: scope is the space-separated scopes" 'sorted(j["scope"].split()) == ["read","write"]' "$OUT"
expect_json "verify --json: iat now, exp in 90 days" \
    'abs(j["iat"] - now) < 120 and abs(j["exp"] - now - 90*86400) < 86400' "$OUT"
expect_json "verify --json: token_type is a non-empty string" \
    'isinstance(j["token_type"], str) and j["token_type"] != ""' "$OUT"

# --- exchange
tctl_in "$TKR" exchange
expect_rc "exchange exits 0" 0
expect_lines "exchange prints exactly one line" 1 "$T/out"
expect_match "exchange prints an access token" '^tka_[0-9A-Za-z]+$' "$OUT"
TKA=$(head -n 1 "$T/out")
expect_eq "access token is 76 characters" 76 "${#TKA}"

tctl_in "$TKA" --json verify
expect_rc "verify of the access token exits 0" 0
expect_json "access token: active, sub, uid" "j['active'] is True and j['sub'] == '$ME' and j['uid'] == $MY_UID" "$OUT"
expect_json "access token inherits the scopes" 'sorted(j["scope"].split()) == ["read","write"]' "$OUT"
expect_json "access token lives 5 minutes by default" 'abs(j["exp"] - j["iat"] - 300) <= 5' "$OUT"
expect_json "access token has its own jti" "isinstance(j['jti'], str) and j['jti'] not in ('', '$ID')" "$OUT"
expect_json "access token_type is a non-empty string" \
    'isinstance(j["token_type"], str) and j["token_type"] != ""' "$OUT"

tctl_in "$TKR" --json exchange
expect_rc "exchange --json exits 0" 0
expect_json "exchange --json has the RFC 6749 fields" \
    'set(j) >= {"access_token","token_type","expires_in","scope"} and j["token_type"] == "Bearer"' "$OUT"
expect_json "exchange --json: access_token and expires_in" \
    'j["access_token"].startswith("tka_") and 290 <= j["expires_in"] <= 300' "$OUT"

# --lifetime takes what tokend.conf takes: plain seconds too.
tctl_in "$TKR" --json exchange --lifetime 30
expect_rc "exchange --lifetime 30 (plain seconds, as in tokend.conf) exits 0" 0
expect_json "... and the access token lives 30 seconds" 'j["expires_in"] in (29, 30)' "$OUT"
tctl_in "$TKR" exchange --lifetime 5x
expect_rc "exchange --lifetime 5x is a usage error" 2
expect_match "... that lists the units" 'seconds, or a number with s, m, h, d or w' "$ERR"

tctl_in "$TKR" exchange --scope read
expect_rc "exchange --scope read (narrowing) exits 0" 0
TKA_READ=$OUT
tctl_in "$TKA_READ" --json verify
expect_json "the narrowed access token has only scope read" 'j["scope"].split() == ["read"]' "$OUT"
tctl_in "$TKR" exchange --scope admin
expect_rc "exchange --scope admin (widening) is refused" 1
expect_lines "a refused exchange prints nothing on stdout" 0 "$T/out"

# --- last used is tracked (granularity <= 1 minute, so only "set", not exact)
tctl --json list
expect_json "list shows last_used after exchange/verify" \
    "[t['last_used'] is None or abs(ts(t['last_used']) - now) < 120 for t in j if t['id'] == '$ID'] == [True]" "$OUT"

# --- bad tokens
tctl_in "tkr_notavalidtoken" exchange
expect_rc "exchange with a malformed token exits 1" 1
expect_lines "exchange failure prints one line on stderr" 1 "$T/err"
BAD=${TKR:0:53}x
[ "$BAD" = "$TKR" ] && BAD=${TKR:0:53}y
tctl_in "$BAD" exchange
expect_rc "exchange with a one-character typo exits 1" 1
tctl_in "$TKA" exchange
expect_rc "exchange with an access token (not refresh) exits 1" 1
expect_match "... and says only refresh tokens can be exchanged" \
    'only refresh tokens \(tkr_\.\.\.\) can be exchanged; this is an access token' "$ERR"
tctl_in "" exchange
expect_true "exchange with an empty line is refused (1 or 2)" eval '[ "$RC" = 1 ] || [ "$RC" = 2 ]'

tctl_in "garbage" verify
expect_rc "verify of garbage exits 1" 1
expect_lines "verify of garbage: one line on stderr (SPEC: every failure)" 1 "$T/err"
tctl_in "garbage" --json verify
expect_rc "verify --json of garbage exits 1" 1
expect_json "verify --json of garbage prints only {\"active\":false}" 'j == {"active": False}' "$OUT"
tctl_in "$BAD" --json verify
expect_json "verify --json of a typo prints only {\"active\":false}" 'j == {"active": False}' "$OUT"

# --- secrets never from argv
tctl exchange "$TKR"
expect_rc "exchange with the token as an argument is a usage error" 2
expect_lines "exchange from argv prints nothing on stdout" 0 "$T/out"
tctl verify "$TKR"
expect_rc "verify with the token as an argument is a usage error" 2

# --- an expired access token is inactive (access_max lowered to test it fast)
stop_daemon
write_config access_default=2s access_max=2s
start_daemon || finish
tctl_in "$TKR" verify
expect_rc "refresh token still active after restart" 0
tctl_in "$TKR" exchange
expect_rc "exchange with a 2s access lifetime" 0
TKA_SHORT=$OUT
tctl_in "$TKR" exchange --lifetime 1h
expect_rc "exchange --lifetime 1h above access_max is refused" 1
expect_match "... saying the limit as a duration" 'an access token lives at most 2s on this host' "$ERR"
tctl_in "$TKA_SHORT" verify
expect_rc "short access token active at first" 0
clock_advance 3
tctl_in "$TKA_SHORT" --json verify
expect_rc "access token inactive after its expiry" 1
expect_json "expired access token: only {\"active\":false}" 'j == {"active": False}' "$OUT"

# --- an expired refresh token: its owner is told when; anyone else is not
clock_advance $((91 * 86400))
tctl_in "$TKR" exchange
expect_rc "exchange of an expired refresh token exits 1" 1
expect_match "... and tells its owner it expired, and when" \
    '^tokenctl: exchange: .*the refresh token "api" expired on 20[0-9][0-9]-[0-9][0-9]-[0-9][0-9] ' "$ERR"
if is_root; then
	as_nobody tctl_in "$TKR" exchange
	expect_rc "another user's exchange of it exits 1" 1
	expect_no_match "... and learns nothing of it" 'expired|api' "$ERR"
fi

stop_daemon
finish
