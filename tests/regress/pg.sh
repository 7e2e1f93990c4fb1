# SPDX-License-Identifier: ISC
# tests/regress/pg.sh: a private PostgreSQL for the fleet tests, sourced
# after lib.sh.  The cluster lives in $T/pg, listens on a Unix socket in
# $T/pg/sock only (no TCP), trusts local connections, and is stopped by
# the EXIT trap.  As root the server runs as user postgres (it refuses to
# run as root); otherwise as the caller.

PG_BIN=${PG_BIN:-$(pg_config --bindir 2>/dev/null)}
PG_DIR=
PG_SOCK=
PG_AS=()

# pg_have: the server programs are installed (package postgresql).
pg_have() { [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; }

# pg_start: initdb (once) and start the cluster; the database "tokend",
# with the schema, and a role "tokend" with only the grants the daemons
# need.  Returns non-zero (reported) when it cannot.
pg_start() {
	PG_DIR=$T/pg
	PG_SOCK=$PG_DIR/sock
	if is_root; then PG_AS=(runuser -u postgres --); fi
	if [ ! -d "$PG_DIR/data" ]; then
		mkdir -p "$PG_DIR/data" "$PG_SOCK"
		chmod 755 "$PG_DIR"
		is_root && chown postgres "$PG_DIR/data" "$PG_SOCK"
		(cd / && "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust \
		    -U postgres) >"$PG_DIR/initdb.log" 2>&1 || {
			fail "initdb" "$(tail -5 "$PG_DIR/initdb.log")"; return 1; }
	fi
	pg_ctl_start || return 1
	if [ ! -f "$PG_DIR/created" ]; then
		pg_sql postgres "CREATE ROLE tokend LOGIN" >/dev/null &&
		    pg_sql postgres "CREATE DATABASE tokend" >/dev/null || {
			fail "create the tokend database" "$PG_OUT"; return 1; }
		: >"$PG_DIR/created"
	fi
}

pg_ctl_start() {
	(cd / && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 \
	    -l "$PG_DIR/data/server.log" \
	    -o "-k $PG_SOCK -c listen_addresses='' -c fsync=off" start) \
	    >"$PG_DIR/pg_ctl.log" 2>&1 || {
		fail "PostgreSQL starts" "$(tail -5 "$PG_DIR/pg_ctl.log" "$PG_DIR/data/server.log")"
		return 1; }
}

# pg_stop [fast|immediate]
pg_stop() {
	[ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
	(cd / && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w \
	    -m "${1:-fast}" stop) >/dev/null 2>&1
}

# pg_sql DB SQL: run SQL as the superuser; output (unaligned) in PG_OUT.
pg_sql() {
	# (from /: as postgres, a checkout in a 0700 folder is no working dir)
	PG_OUT=$(cd / && "${PG_AS[@]}" psql -X -q -At -v ON_ERROR_STOP=1 \
	    -h "$PG_SOCK" -U postgres -d "$1" -c "$2" 2>&1)
}

# The grants of the daemons' role (README, "Fleet mode").
PG_GRANTS="GRANT SELECT ON tokend_tokens, tokend_log, tokend_state, tokend_schema TO tokend;
GRANT EXECUTE ON FUNCTION tokend_issue(bigint, text, bigint, smallint, bigint, bigint, bytea, text, text, integer, bigint), tokend_revoke(bigint), tokend_revoke_user(text), tokend_rename(bigint, text, bigint), tokend_rotate(bigint, bigint, bytea, bigint, bigint, integer), tokend_unrotate(bigint, bigint), tokend_revoke_chain(bigint), tokend_last_used(bigint[], bigint[]), tokend_purge(bigint) TO tokend;"

pg_conninfo() { echo "host=$PG_SOCK dbname=tokend user=${1:-tokend}"; }

# pg_password_stack: PAMDIR/tokend asks for the password only: one
# pam_oath file shared by several daemons would make concurrent issues
# fail on its lock (TESTING.md).
pg_password_stack() {
	cat >"$PAMDIR/tokend" <<EOF
auth     required   $PAM_MATRIX passdb=$PAMDIR/passdb
account  required   $PAM_MATRIX passdb=$PAMDIR/passdb
EOF
}

# ---- several daemons ("hosts") in one test, with $T/tokend.conf

declare -A HOST_PID
# host_start NAME [FLAGS...]: a daemon with its own socket and copy.
host_start() {
	local name=$1 i
	shift
	mkdir -p "$T/$name.db"
	echo "--- $name start $(date +%T)" >>"$T/daemon.log"
	env TOKEND_TEST_CLOCK_FILE="$T/clock" "$TOKEND" -f -c "$T/tokend.conf" \
	    --socket "$T/$name.sock" --db "$T/$name.db" --key-file "$T/hash.key" \
	    --pam-service tokend --pam-confdir "$PAMDIR" "$@" >>"$T/daemon.log" 2>&1 &
	HOST_PID[$name]=$!
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		[ -S "$T/$name.sock" ] && "$TCTL" --socket "$T/$name.sock" status \
		    >/dev/null 2>&1 </dev/null && return 0
		kill -0 "${HOST_PID[$name]}" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
host_stop() {
	local pid=${HOST_PID[$1]}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	HOST_PID[$1]=
}
cleanup_hook() {
	local h
	for h in "${!HOST_PID[@]}"; do
		[ -n "${HOST_PID[$h]}" ] && kill -9 "${HOST_PID[$h]}" 2>/dev/null
	done
	pg_stop immediate
	[ -n "${PG_STANDBY:-}" ] && [ -f "$PG_STANDBY/postmaster.pid" ] &&
	    (cd / && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_STANDBY" -m immediate \
	    stop) >/dev/null 2>&1
}
# on HOST CMD...: a helper (tctl, issue_token...) against HOST's socket.
on() {
	local SOCK=$T/$1.sock
	shift
	"$@"
}
# in_touch HOST: it can vouch for tokens (STATUS healthy, connected).
in_touch() {
	on "$1" tctl --json status
	[ "$RC" = 0 ] && [ "$(json_eval "j['healthy'] and j['fleet_connected'] == 1" "$OUT")" = true ]
}
issue_pw() { # issue_pw NAME [ARGS]: password only (this stack)
	local name=$1
	shift
	tctl_in "$PW_ME" issue --name "$name" "$@"
	TOKEN=$(head -n 1 "$T/out")
}
now_ms() { date +%s%3N; }
