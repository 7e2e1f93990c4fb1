#!/bin/bash
# SPDX-License-Identifier: ISC
# Fleet mode across a PostgreSQL failover: a primary and a streaming
# standby (pg_basebackup), two daemons with a multi-host conninfo and
# target_session_attrs=read-write.  Tokens are issued, the primary stops,
# the standby is promoted: the daemons find the new primary by themselves,
# every acknowledged token still works, and issuing and revoking work
# again, revocations reaching the other host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"

setup
if ! pg_have || [ ! -x "$PG_BIN/pg_basebackup" ]; then
	skip "fleet failover" "needs the postgresql package (initdb, pg_ctl, pg_basebackup)"
	finish
fi
pg_password_stack
pg_start || finish
printf 'store = postgresql\npostgresql = "%s"\n' "$(pg_conninfo postgres)" >"$T/admin.conf"
run "$TOKEND" --init-db -c "$T/admin.conf"
expect_rc "the schema on the primary" 0
pg_sql tokend "$PG_GRANTS" || fail "grants" "$PG_OUT"

# The standby: a base backup that streams from the primary (-R).
PG_STANDBY=$PG_DIR/standby
PG_SOCK2=$PG_DIR/sock2
mkdir -p "$PG_SOCK2" "$PG_STANDBY"
chmod 700 "$PG_STANDBY"
is_root && chown postgres "$PG_SOCK2" "$PG_STANDBY"
(cd / && "${PG_AS[@]}" "$PG_BIN/pg_basebackup" -h "$PG_SOCK" -U postgres -D "$PG_STANDBY" -R \
    -X stream) >"$PG_DIR/basebackup.log" 2>&1
RC=$?
expect_rc "pg_basebackup makes a standby" 0
(cd / && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_STANDBY" -w -t 60 -l "$PG_STANDBY/server.log" \
    -o "-k $PG_SOCK2 -p 5433 -c listen_addresses='' -c fsync=off" start) \
    >"$PG_DIR/standby.log" 2>&1
RC=$?
expect_rc "the standby starts" 0
streaming() { pg_sql postgres "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"; [ "$PG_OUT" = 1 ]; }
wait_for 30 streaming
expect_true "the standby streams from the primary" streaming

write_config store=postgresql \
    "postgresql=\"host=$PG_SOCK,$PG_SOCK2 port=5432,5433 dbname=tokend user=tokend target_session_attrs=read-write\"" \
    fleet_max_staleness=30s pam_serialize=no
for h in A B; do
	host_start $h || { fail "host $h starts" "$(tail -20 "$T/daemon.log")"; finish; }
	wait_for 20 in_touch $h
	expect_true "host $h is in touch with the primary" in_touch $h
done
: >"$T/acked"
for i in 1 2 3 4 5; do
	on A issue_pw "before-$i"
	[ "$RC" = 0 ] && echo "$TOKEN" >>"$T/acked"
done
expect_eq "five tokens issued on A before the failover" 5 "$(wc -l <"$T/acked")"
# (as a careful admin would: the standby has replayed what was acknowledged)
caught_up() { pg_sql postgres "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn = pg_current_wal_lsn()"; [ "$PG_OUT" = 1 ]; }
wait_for 30 caught_up

# --- the primary goes; the standby is promoted
pg_stop fast
(cd / && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_STANDBY" -w promote) >>"$PG_DIR/standby.log" 2>&1
RC=$?
expect_rc "the standby is promoted" 0
for h in A B; do
	wait_for 40 in_touch $h
	expect_true "host $h finds the new primary by itself" in_touch $h
done
expect_match "... and says where it is now" "fleet: connected to socket $PG_SOCK2" "$(cat "$T/daemon.log")"
lost=
while read -r tok; do
	on B tctl_in "$tok" verify
	[ "$RC" = 0 ] || lost="$lost $tok"
done <"$T/acked"
expect_eq "every token acknowledged before the failover verifies on B" "" "$lost"
on B issue_pw after
expect_rc "issuing on B works on the new primary" 0
AFTER=$TOKEN
on A tctl_in "$AFTER" verify
expect_rc "... and A verifies that token" 0
on A tctl delete after --yes
expect_rc "a revocation on A" 0
gone_on_b() { on B tctl_in "$AFTER" verify; [ "$RC" = 1 ]; }
wait_for 10 gone_on_b
expect_true "... reaches B through the new primary" gone_on_b

for h in A B; do host_stop $h; done
finish
