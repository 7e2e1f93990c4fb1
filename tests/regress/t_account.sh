#!/bin/bash
# SPDX-License-Identifier: ISC
# A token never outlives its account: the user deleted, its uid changed, or
# the PAM account phase refusing it makes its tokens (and their access
# tokens) inactive within account_recheck; back again when the account is.
# The daemon sees its own password database (nss_wrapper), and the test
# moves the daemon's clock instead of waiting out account_recheck.
. "$(dirname "$0")/lib.sh"

if ! is_root; then
	skip "a token outlives no account" "needs root to issue tokens for alice"
	finish
fi
setup account_recheck=60s lookup_timeout=2s
cp "$(dirname "$0")/rawclient.py" "$T/rawclient.py"
cat >"$PAMDIR/tokend" <<EOF
auth     required   $PAM_MATRIX passdb=$PAMDIR/passdb
account  required   $PAM_MATRIX passdb=$PAMDIR/passdb
EOF
echo "alice:pw-alice:tokend" >>"$PAMDIR/passdb"
cp "$PAMDIR/passdb" "$T/passdb.good"
use_nss_wrapper alice:50001 || finish
start_daemon || finish

# is_active TOKEN: verify answers active.
is_active() { verify_rc "$1"; }
is_inactive() { ! verify_rc "$1"; }
stat_value() { tctl --json status; json_eval "j.get('$1', -1)" "$OUT"; }
checks_above() { [ "$(stat_value account_checks)" -gt "$1" ]; }
disabled_lines() { grep -c 'account of alice (uid 50001) disabled: tokens inactive' "$T/daemon.log"; }
enabled_lines() { grep -c 'account of alice (uid 50001) enabled again' "$T/daemon.log"; }
# becomes WHAT TOKEN: within one check, TOKEN is WHAT (active or inactive).
becomes() { wait_for "$CMD_TIMEOUT" "is_$1" "$2"; }
# settle: the background re-check of a used account has answered (no
# request waiting on it, nothing used since).
settle() {
	local c0
	c0=$(stat_value account_checks)
	clock_advance 61
	wait_for "$CMD_TIMEOUT" checks_above "$c0"
}

tctl_in "pw-alice" issue --user alice --name a
expect_rc "root issues a token for alice" 0
TKR=$(head -n 1 "$T/out")
tctl_in "$TKR" exchange
TKA=$OUT
expect_true "alice's refresh token is active" is_active "$TKR"
expect_true "so is its access token" is_active "$TKA"

# --- tokens in use: account_recheck after their last check they are
# checked again in the background, without a request, and requests go on
# meanwhile; the next answer tells.
C0=$(stat_value account_checks)
clock_advance 61
expect_true "account_recheck on, an account in use is checked again without a request" \
    wait_for "$CMD_TIMEOUT" checks_above "$C0"
is_active "$TKR"
nss_users
expect_true "right after userdel the last check still holds (it is recent)" is_active "$TKR"
clock_advance 61
expect_true "account_recheck later, within one check, the refresh token is inactive" \
    becomes inactive "$TKR"
tctl_in "$TKR" --json verify
expect_json "verify says only {\"active\":false}" 'j == {"active": False}' "$OUT"
expect_true "the access token is inactive too" is_inactive "$TKA"
tctl_in "$TKR" exchange
expect_rc "exchange is refused" 1
expect_match "as an inactive token" 'not active' "$ERR"
expect_eq "the log says so once" 1 "$(disabled_lines)"
clock_advance 61
becomes inactive "$TKR"
expect_eq "and not again on the next check" 1 "$(disabled_lines)"
expect_eq "status counts the disabled account" 1 "$(stat_value accounts_disabled)"

# --- alice back: her tokens work again.
nss_users alice:50001
clock_advance 61
expect_true "alice back: the refresh token is active again" becomes active "$TKR"
expect_true "and its access token" is_active "$TKA"
expect_eq "the log says she is enabled again, once" 1 "$(enabled_lines)"

# --- an account idle since its last check waits for a fresh one: no stale
# answer at all.  (settle: the check after the last use has answered.)
settle
nss_users alice:50002
clock_advance 61
expect_true "alice's name on uid 50002: the token (issued to 50001) is inactive at once" \
    is_inactive "$TKR"
nss_users alice:50001
clock_advance 61
expect_true "uid 50001 again (the account was just used): active within one check" \
    becomes active "$TKR"

# --- the PAM account phase refuses alice (pam_matrix: no tokend service).
settle
sed -i 's/^alice:pw-alice:tokend$/alice:pw-alice:other/' "$PAMDIR/passdb"
clock_advance 61
expect_true "PAM's account phase refusing alice: inactive" is_inactive "$TKR"
cp "$T/passdb.good" "$PAMDIR/passdb"
clock_advance 61
expect_true "accepting her again: active within one check" becomes active "$TKR"
expect_eq "three disabled spells, three log lines" 3 "$(disabled_lines)"

clock_advance 61
expect_true "alice back once more" becomes active "$TKR"

# --- the event loop never waits for NSS or PAM: with the account helper
# stuck, what needs no look-up is answered at once, what does gets an
# error after lookup_timeout, and a new helper takes over.
HELPER=$(pgrep -P "$DAEMON_PID" -f -- --account-helper)
expect_match "the daemon has an account helper" '^[0-9]+$' "$HELPER"
kill -STOP "$HELPER"
"$TCTL" --socket "$SOCK" list --user bob >"$T/bob.out" 2>"$T/bob.err" </dev/null &
BOB=$!
tctl status
expect_rc "status answers while a look-up hangs" 0
expect_true "and alice's token verifies (checked recently)" is_active "$TKR"
# More questions arriving must not keep the stuck helper alive: lookup_timeout
# counts from the question it is stuck on.  (At most 40 more, 4 a second.)
for i in $(seq 1 40); do
	kill -0 "$BOB" 2>/dev/null || break
	"$TCTL" --socket "$SOCK" list --user "more$i" >/dev/null 2>&1 </dev/null &
	sleep 0.25
done
bob_done() { ! kill -0 "$BOB" 2>/dev/null; }
expect_true "the hung look-up ended while more kept coming" bob_done
wait "$BOB"
expect_eq "the hung look-up fails after lookup_timeout (exit 3: try again later)" 3 "$?"
expect_match "saying it cannot look the user up" 'cannot look up user bob' "$(cat "$T/bob.err")"
expect_true "the log says the helper did not answer" \
    grep -q 'account helper did not answer within 2 s' "$T/daemon.log"
kill -CONT "$HELPER" 2>/dev/null
tctl --json list --user alice
expect_json "a new helper answers the next look-up" 'len(j) == 1' "$OUT"

# --- a client that pipelines is not dropped while a check is due: 1000
# VERIFYs at once of a token whose account must be checked first.
settle
clock_advance 61
RES=$(printf '%s\n' "$TKR" | "$PYTHON" "$T/rawclient.py" "$SOCK" verify-same 1000)
expect_json "1000 pipelined VERIFYs behind an account check: all answered active" \
    'j["active"] == 1000 and j["last"] == "active" and j["errors"] == []' "$RES"

# --- a PAM account module that fails for its own reasons (LDAP down) is no
# answer: tokens are refused meanwhile, but the account is not "disabled".
settle
cp "$PAMDIR/tokend" "$T/tokend.pam.good"
cat >"$PAMDIR/tokend" <<EOF
auth     required   $PAM_MATRIX passdb=$PAMDIR/passdb
account  required   $TOP/tests/pam/pam_testmod.so unknown-option
EOF
D0=$(disabled_lines)
clock_advance 61
expect_true "an account module in error: the token is refused (fail closed)" is_inactive "$TKR"
expect_eq "but the account is not logged as disabled" "$D0" "$(disabled_lines)"
expect_true "the log says the look-up failed" grep -q 'look-up of alice failed' "$T/daemon.log"
cp "$T/tokend.pam.good" "$PAMDIR/tokend"
expect_true "the module working again: active within one check" becomes active "$TKR"

# --- account_recheck = 0: no checks at all.
write_config account_recheck=0
kill -HUP "$DAEMON_PID"
wait_log 'configuration reloaded'
nss_users
clock_advance 61
expect_true "account_recheck = 0: a deleted account's token stays active" is_active "$TKR"

stop_daemon
expect_eq "the daemon stops cleanly" 0 "$DAEMON_RC"
finish
