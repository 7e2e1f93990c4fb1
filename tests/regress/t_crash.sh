#!/bin/bash
# SPDX-License-Identifier: ISC
# Durability and restarts: kill -9 right after issue loses nothing; stale and
# live sockets; the key file.
. "$(dirname "$0")/lib.sh"

setup
start_daemon || finish

TOKS=()
for n in 1 2 3 4 5; do
	issue_ok "durable-$n" || finish
	TOKS+=("$TOKEN")
done
# SIGKILL immediately after the last issue answered.
kill9_daemon

expect_true "the socket file is left behind by kill -9 (stale)" test -S "$SOCK"
tctl status
expect_rc "status with a stale socket and no daemon: unreachable, exit 3" 3
expect_lines "unreachable: one line on stderr" 1 "$T/err"

start_daemon || finish
pass "the daemon restarts over a stale socket"
n=0
for tok in "${TOKS[@]}"; do
	n=$((n + 1))
	tctl_in "$tok" --json verify
	expect_json "token durable-$n is active after kill -9 and restart" 'j["active"] is True' "$OUT"
done
tctl --json list
expect_json "list has all 5 tokens after restart" 'sorted(t["name"] for t in j) == ["durable-%d" % i for i in range(1, 6)]' "$OUT"

# --- a second daemon on the same socket refuses to start and leaves the first alone
mkdir -p "$T/db2"
"$TOKEND" -f -c "$T/tokend.conf" --socket "$SOCK" --db "$T/db2" \
    --key-file "$T/hash2.key" --pam-service tokend --pam-confdir "$PAMDIR" \
    >"$T/second.log" 2>&1 &
SECOND=$!
BG_PIDS="$BG_PIDS $SECOND"
i=0
while kill -0 "$SECOND" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$SECOND" 2>/dev/null; then
	fail "a second daemon on a live socket refuses to start" "still running after 5 s" \
	    "$(cat "$T/second.log")"
	kill -9 "$SECOND"
	wait "$SECOND" 2>/dev/null
else
	wait "$SECOND"
	expect_ne "a second daemon on a live socket exits non-zero" 0 "$?"
	expect_match "the second daemon says why on stderr" '.' "$(cat "$T/second.log")"
fi
tctl_in "${TOKS[0]}" verify
expect_rc "the first daemon still serves after the second one gave up" 0

# --- key file: 0600, reused across restarts, a different key means no token works
expect_eq "key file mode is 0600" 600 "$(stat -c %a "$T/hash.key")"
KEYSUM=$(sha256sum <"$T/hash.key")
stop_daemon
expect_eq "SIGTERM exits 0" 0 "$DAEMON_RC"
expect_true "SIGTERM removes the socket" test ! -e "$SOCK"
start_daemon || finish
expect_eq "the key file is kept across restarts" "$KEYSUM" "$(sha256sum <"$T/hash.key")"
tctl_in "${TOKS[4]}" verify
expect_rc "tokens verify after a clean restart" 0

stop_daemon
# A copy of the database with another key reveals nothing usable.
cp -a "$T/db" "$T/db-copy"
if DB_DIR=$T/db-copy KEY_FILE=$T/other.key START_QUIET=1 start_daemon; then
	expect_eq "a missing key file is created with mode 0600" 600 "$(stat -c %a "$T/other.key" 2>/dev/null)"
	tctl_in "${TOKS[0]}" verify
	expect_rc "with another key, a copied database yields no active token" 1
	stop_daemon
else
	pass "with another key, the daemon refuses the copied database"
fi
# --- issue under load then kill -9: every token whose issue answered survives
start_daemon || finish
TOKS2=()
for n in 1 2 3; do
	issue_ok "burst-$n" || finish
	TOKS2+=("$TOKEN")
	tctl_in "$TOKEN" exchange >/dev/null
done
ID_B1=$(token_id "${TOKS2[0]}")
tctl delete "$ID_B1" --yes
expect_rc "delete burst-1" 0
kill9_daemon
start_daemon || finish
tctl_in "${TOKS2[0]}" verify
expect_rc "burst-1 (deleted just before kill -9) stays deleted" 1
tctl_in "${TOKS2[2]}" verify
expect_rc "burst-3 (issued just before kill -9) is active" 0

stop_daemon
finish
