#!/bin/bash
# SPDX-License-Identifier: ISC
# Fleet mode (store = postgresql): three daemons ("hosts" A, B and C) on
# one private PostgreSQL, started here in the temp dir on a Unix socket.
# Issue on A, verify on B, list on C; the per-user limit across hosts
# under concurrent issues; a revocation on C reaches A and B (the time it
# took is printed); kill -9 during an issue loop loses nothing
# acknowledged; with PostgreSQL stopped writes fail at once, cached
# verifies go on until fleet_max_staleness and then answer UNAVAILABLE;
# with it back everything works again; an unknown schema version stops a
# daemon at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"

setup
if ! pg_have; then
	# .ci/run installs postgresql; a developer machine may not have it.
	skip "fleet mode" "needs the postgresql package (initdb, pg_ctl)"
	finish
fi
pg_password_stack
pg_start || finish

# --- the schema: created by an admin role, idempotent
printf 'store = postgresql\npostgresql = "%s"\n' "$(pg_conninfo postgres)" >"$T/admin.conf"
run "$TOKEND" --init-db -c "$T/admin.conf"
expect_rc "tokend --init-db creates the schema" 0
expect_match "... and says so" '^schema version 1 created in database tokend' "$OUT"
run "$TOKEND" --init-db -c "$T/admin.conf"
expect_rc "tokend --init-db again" 0
expect_match "... finds it up to date" '^schema version 1: up to date in database tokend' "$OUT"
pg_sql tokend "$PG_GRANTS" || fail "grants" "$PG_OUT"
pg_sql tokend "SET ROLE tokend; DELETE FROM tokend_tokens"
expect_match "the daemons' role may not write the tables itself" 'permission denied' "$PG_OUT"
pg_sql tokend "SELECT proconfig FROM pg_proc WHERE proname = 'tokend_issue'"
expect_match "the functions search their own schema, then pg_temp (a temporary table cannot stand in)" \
    'search_path=public, pg_temp' "$PG_OUT"


# --- a one-host store moves into the database, its tokens still working
write_config
host_start L || { fail "the one-host daemon starts" "$(tail -20 "$T/daemon.log")"; finish; }
on L issue_pw onehost --scope mail
ONEHOST=$TOKEN
on L tctl_in "$ONEHOST" exchange
ONEHOST_ACC=$(head -n 1 "$T/out")
host_stop L
run "$TOKEND" --import-lmdb "$T/L.db" -c "$T/admin.conf"
expect_rc "tokend --import-lmdb copies a one-host store in" 0
expect_match "... saying how many" "^imported 1 token from $T/L.db; 0 already in the database" "$OUT"
run "$TOKEND" --import-lmdb "$T/L.db" -c "$T/admin.conf"
expect_match "... and again changes nothing" "^imported 0 tokens .*; 1 already in the database" "$OUT"

write_config store=postgresql "postgresql=\"$(pg_conninfo)\"" fleet_max_staleness=30s \
    max_tokens_per_user=3 max_pam_per_uid=4 max_pam_queued_per_uid=8 pam_serialize=no \
    last_used_flush=1s
for h in A B C; do
	host_start $h || { fail "host $h starts" "$(tail -20 "$T/daemon.log")"; finish; }
done
for h in A B C; do
	wait_for 20 in_touch $h
	expect_true "host $h is in touch with the database" in_touch $h
done

if is_root; then
	on A tctl status
	expect_match "tokenctl status names the store" '^store: postgresql \(fleet mode\), connected$' "$OUT"
	expect_match "... and the age of the last contact" '^fleet_contact_age_seconds: [0-9]+$' "$OUT"
fi

# --- the fleet process: the engine's user, no new privileges, a syscall filter
FL=$(pgrep -P "${HOST_PID[A]}" -f -- '--fleet' | head -n 1)
expect_true "host A runs a fleet process" test -n "$FL"
st=$(cat "/proc/$FL/status" 2>/dev/null)
expect_match "... with no_new_privs" '^NoNewPrivs:[[:space:]]+1$' "$st"
# (a sanitizer build runs without filters: LeakSanitizer needs ptrace)
if grep -q 'sanitizer build: the engine runs without its seccomp filter' "$T/daemon.log"; then
	skip "the fleet process's seccomp filter" "not in a sanitizer build"
else
	expect_match "... under a seccomp filter" '^Seccomp:[[:space:]]+2$' "$st"
fi
if is_root; then
	expect_match "... as the engine's user (nobody here), not root" \
	    "^Uid:[[:space:]]+$NOBODY_UID[[:space:]]+$NOBODY_UID[[:space:]]+$NOBODY_UID" "$st"
fi

on B tctl_in "$ONEHOST" --json verify
expect_json "the imported token verifies on B, with its scope" "j['active'] and j['scope'] == 'mail'" "$OUT"
on C tctl_in "$ONEHOST_ACC" verify
expect_rc "... and an access token made on the one host, on C" 0
on A tctl delete onehost --yes
expect_rc "... and A deletes it (room for the limit below)" 0

# --- one set of tokens: issue on A, verify on B, list on C
on A issue_pw laptop --scope deploy
expect_rc "issue on A exits 0" 0
T1=$TOKEN
T1_ID=$(on A token_id "$T1")
expect_true "... and A verifies it" test -n "$T1_ID"
on B tctl_in "$T1" --json verify
expect_json "B verifies it at once, same id, user and scopes" \
    "j['active'] and j['jti'] == '$T1_ID' and j['sub'] == '$ME' and j['scope'] == 'deploy'" "$OUT"
listed_on() { on "$1" tctl --json list; [ "$RC" = 0 ] && json_eval "sorted(t['name'] for t in j)" "$OUT" | grep -q "$2"; }
wait_for 10 listed_on C laptop
on C tctl --json list
expect_json "C lists it" "[t['id'] for t in j] == ['$T1_ID']" "$OUT"
on C tctl_in "$T1" exchange
expect_rc "C exchanges it for an access token" 0
ACC=$(head -n 1 "$T/out")
on A tctl_in "$ACC" verify
expect_rc "... which A verifies (the shared key signs it)" 0

# Last-used times: each host saves its own in batches; the database keeps the latest.
used_in_db() { pg_sql tokend "SELECT last_used > 0 FROM tokend_tokens WHERE name = 'laptop'"; [ "$PG_OUT" = t ]; }
wait_for 15 used_in_db
expect_true "the database learns when the hosts last used the token (their batches merged)" used_in_db

on B tctl rename laptop desk
expect_rc "rename on B" 0
wait_for 10 listed_on A desk
on A tctl --json show "$T1_ID"
expect_json "A sees the new name" "j['name'] == 'desk'" "$OUT"
expect_json "... and when it was last used" \
    "j['last_used'] is not None" "$OUT"

# --- the per-user limit (3) holds across hosts under concurrent issues
pids=
for h in A B C A B C; do
	(SOCK=$T/$h.sock; T0=$T; T=$(mktemp -d "$T/par.XXXXXX")
	    issue_pw "par-$h-$RANDOM" >/dev/null; echo "$RC" >>"$T0/par.rc"
	    cat "$T/err" >>"$T0/par.err") &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
ok=$(grep -c '^0$' "$T/par.rc")
expect_eq "6 concurrent issues on 3 hosts for a user with 1 of 3: 2 succeed" 2 "$ok"
expect_match "... the others hear of the limit" 'has 3 tokens, the maximum' "$(cat "$T/par.err")"
pg_sql tokend "SELECT count(*) FROM tokend_tokens WHERE user_name = '$ME'"
expect_eq "... and the database holds 3" 3 "$PG_OUT"

# --- a revocation on C reaches A and B
on A tctl_in "$T1" verify
on B tctl_in "$T1" verify	# (both have it cached now)
t0=$(now_ms)
on C tctl delete "$T1_ID" --yes
expect_rc "delete on C" 0
gone_on() { local STDIN_TEXT="$T1
"; on "$1" tctl verify; [ "$RC" = 1 ]; }
wait_for 10 gone_on A; tA=$(($(now_ms) - t0))
wait_for 10 gone_on B; tB=$(($(now_ms) - t0))
expect_true "A refuses the revoked token" gone_on A
expect_true "B refuses it too" gone_on B
echo "t_fleet: revocation on C seen on A after ${tA} ms, on B after ${tB} ms"
on A tctl_in "$ACC" verify
expect_rc "... and its access token" 1

# --- REVOKE_ALL on A empties the user everywhere
on A tctl delete --all --yes
expect_rc "delete --all on A" 0
expect_match "... counting what the database deleted (the 2 left)" '^Deleted 2 tokens\.$' "$ERR"
empty_on() { on "$1" tctl --json list; [ "$OUT" = "[]" ]; }
wait_for 10 empty_on B
expect_true "B lists nothing" empty_on B

# --- kill -9 during an issue loop: nothing acknowledged is lost
pg_sql tokend "SELECT 1"	# (the limit is 3: room for the loop)
write_config store=postgresql "postgresql=\"$(pg_conninfo)\"" fleet_max_staleness=30s \
    max_tokens_per_user=1000 pam_serialize=no
kill -HUP "${HOST_PID[A]}" "${HOST_PID[B]}"
wait_for 10 sh -c "[ \$(grep -c 'configuration reloaded' '$T/daemon.log') -ge 2 ]"
: >"$T/acked"
(
	for i in $(seq 1 40); do
		printf '%s\n' "$PW_ME" | "$TCTL" --socket "$T/A.sock" issue --name "loop-$i" \
		    >/dev/null 2>&1 && echo "loop-$i" >>"$T/acked"
	done
) &
LOOP=$!
wait_for 20 sh -c "[ \$(wc -l <'$T/acked') -ge 5 ]"
kill -9 "${HOST_PID[A]}"
wait "${HOST_PID[A]}" 2>/dev/null
HOST_PID[A]=
wait "$LOOP"
n=$(wc -l <"$T/acked")
expect_true "some issues were acknowledged before the kill ($n)" test "$n" -ge 5
missing=
for name in $(cat "$T/acked"); do
	pg_sql tokend "SELECT count(*) FROM tokend_tokens WHERE name = '$name'"
	[ "$PG_OUT" = 1 ] || missing="$missing $name"
done
expect_eq "every acknowledged token is in the database" "" "$missing"
wait_for 10 sh -c "'$TCTL' --socket '$T/B.sock' --json list | grep -q '\"loop-$n\"'"
on B tctl --json list
expect_json "... and B lists them all" \
    "set('loop-%d' % i for i in range(1, $n + 1)) <= set(t['name'] for t in j)" "$OUT"

# --- a host that was down misses nothing: its copy follows the database at start
on B tctl_in "$PW_ME" issue --name while-down
WD=$(head -n 1 "$T/out")
on C tctl delete "loop-1" --yes
expect_rc "delete loop-1 on C while A is down" 0
host_start A || fail "A starts again after kill -9"
wait_for 20 in_touch A
on A tctl --json list
expect_json "A, back, lists every acknowledged token, the one issued while it was down, not the one deleted" \
    "set('loop-%d' % i for i in range(2, $n + 1)) | {'while-down'} <= set(t['name'] for t in j) and 'loop-1' not in set(t['name'] for t in j)" "$OUT"
on A tctl_in "$WD" verify
expect_rc "... and verifies the token issued while it was down" 0

# --- a host that cannot read the change log stops vouching (no contact)
on B issue_pw logtest
LT=$TOKEN
on C tctl_in "$LT" verify		# C has it
pg_sql tokend "REVOKE SELECT ON tokend_log FROM tokend"
on A tctl delete logtest --yes
expect_rc "delete on A while C cannot read the change log" 0
wait_log 'fleet: cannot read the change log'
clock_advance 31
refused_on() { on "$1" tctl_in "$2" verify; [ "$RC" = 3 ]; }
wait_for 10 refused_on C "$LT"
expect_rc "C, behind and out of contact for fleet_max_staleness, answers UNAVAILABLE" 3
pg_sql tokend "GRANT SELECT ON tokend_log TO tokend"
wait_for 20 in_touch C
on C tctl_in "$LT" verify
expect_rc "with the log readable again C catches up: the token is refused" 1

# --- PostgreSQL stops: writes fail at once, cached verifies go on, then UNAVAILABLE
on B issue_pw kept
KEPT=$TOKEN
on A tctl_in "$KEPT" verify		# A has it now
pg_stop fast
unreachable_on() { on "$1" issue_pw never; [ "$RC" = 3 ]; }
wait_for 20 unreachable_on A
expect_true "with PostgreSQL stopped, issue on A fails (exit 3)" unreachable_on A
expect_match "... saying the database is unreachable" 'token database is unreachable' "$ERR"
t0=$(now_ms)
on B tctl delete kept --yes
expect_rc "delete on B fails too (exit 3)" 3
expect_true "... within 5 s" test $(($(now_ms) - t0)) -lt 5000
on A tctl_in "$KEPT" verify
expect_rc "a token A has seen still verifies" 0
clock_advance 31
wait_for 10 refused_on A "$KEPT"
expect_rc "past fleet_max_staleness, VERIFY answers UNAVAILABLE (exit 3)" 3
expect_match "... saying for how long there was no contact" 'no contact with the token database for [0-9]+s' "$ERR"
on A tctl_in "$KEPT" exchange
expect_rc "... and EXCHANGE" 3

pg_ctl_start
wait_for 30 in_touch A
expect_true "PostgreSQL back: A is in touch again by itself" in_touch A
on A tctl_in "$KEPT" verify
expect_rc "... and verifies the token issued before" 0
wait_for 20 in_touch B
on B issue_pw after
expect_rc "... and issuing works again" 0
on A tctl --json list
expect_json "nothing was lost: kept, the loop and the new one" \
    "{'kept', 'after', 'loop-2'} <= set(t['name'] for t in j)" "$OUT"

# --- a schema version this tokend does not know: it stops
pg_sql tokend "UPDATE tokend_schema SET version = 99"
host_start D
wait_for 20 sh -c "! kill -0 ${HOST_PID[D]} 2>/dev/null"
wait "${HOST_PID[D]}"
rc=$?
HOST_PID[D]=
expect_eq "a daemon finding schema version 99 stops with status 1" 1 "$rc"
expect_match "... saying why" 'schema version 99; this tokend knows version 1: run tokend --init-db' \
    "$(cat "$T/daemon.log")"
run "$TOKEND" --init-db -c "$T/admin.conf"
expect_rc "--init-db refuses a newer schema" 1
expect_match "... saying so" 'newer than this tokend' "$ERR"
pg_sql tokend "UPDATE tokend_schema SET version = 1"

# --- a host that never reached the database vouches for nothing
write_config store=postgresql 'postgresql="host=/nonexistent dbname=tokend"'
host_start E
on E tctl_in "$KEPT" verify
expect_rc "a host without a database answers VERIFY with UNAVAILABLE" 3
expect_match "... not in touch yet" 'not in touch with the token database yet' "$ERR"
on E issue_pw x
expect_rc "... and refuses to issue (exit 3) before asking for a password" 3
expect_no_match "... (no prompt was shown)" 'Password' "$ERR"
host_stop E

# --- ROTATE: the successor works on every host, the old token for its
# overlap; presented after it, on any host, it revokes the chain everywhere
on A issue_pw rot
ROT1=$TOKEN
on A tctl_in "$ROT1" rotate --overlap 10m
expect_rc "rotate on A exits 0" 0
ROT2=$(head -n 1 "$T/out")
active_on() { on "$1" tctl_in "$2" verify; [ "$RC" = 0 ]; }
wait_for 10 active_on B "$ROT2"
expect_true "the successor verifies on B" active_on B "$ROT2"
expect_true "the old token verifies on C during its overlap" active_on C "$ROT1"
on B tctl --json list
expect_json "B lists the successor under the name, the old one rotated to it" \
    "len([t for t in j if t['name'] == 'rot']) == 2" "$OUT"
pg_sql tokend "SELECT count(*) FROM tokend_tokens WHERE name = 'rot' AND rotated_to <> 0"
expect_eq "the database has the old token rotated" 1 "$PG_OUT"
on C tctl_in "$ROT1" rotate
expect_rc "rotating the old token again, on C, is refused" 1
clock_advance 601
refused1_on() { on "$1" tctl_in "$2" verify; [ "$RC" = 1 ]; }
wait_for 20 refused1_on C "$ROT1"
expect_true "after the overlap C refuses the old token" refused1_on C "$ROT1"
wait_log 'reuse of rotated token'
wait_for 20 refused1_on A "$ROT2"
expect_true "... a replay: the successor is revoked on A too" refused1_on A "$ROT2"
pg_sql tokend "SELECT count(*) FROM tokend_tokens WHERE name = 'rot'"
expect_eq "... and the database holds neither" 0 "$PG_OUT"

for h in A B C; do host_stop $h; done
pg_stop fast
finish
