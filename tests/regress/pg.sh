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
GRANT EXECUTE ON FUNCTION tokend_issue(bigint, text, bigint, smallint, bigint, bigint, bytea, text, text, integer, bigint), tokend_revoke(bigint), tokend_revoke_user(text), tokend_rename(bigint, text, bigint), tokend_last_used(bigint[], bigint[]), tokend_purge(bigint) TO tokend;"

pg_conninfo() { echo "host=$PG_SOCK dbname=tokend user=${1:-tokend}"; }
