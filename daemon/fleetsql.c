/* SPDX-License-Identifier: ISC */
/*
 * Fleet mode's schema in PostgreSQL, and `tokend --init-db`, which
 * creates it or upgrades it (fleet.h says how the pieces fit).
 *
 * Every change to a token goes through a function below, in one
 * transaction: it takes the user's row lock where a count or a name
 * must hold across hosts, changes the token, and calls tokend_changed(),
 * which bumps the one counter row, appends (seq, id) to tokend_log and
 * NOTIFYs.  The counter row serialises the writers, so log rows become
 * visible in seq order: a host that read up to seq N never finds a
 * smaller number committed later.
 *
 * The functions are SECURITY DEFINER, owned by whoever ran --init-db,
 * and nobody may call them until granted: the daemons' role needs only
 * SELECT on the tables and EXECUTE on the functions.  Their search_path
 * is the schema they were made in, then pg_temp: a temporary table of the
 * caller's can never stand in for one of theirs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "fleet.h"

/* Version 1, statement by statement. */
static const char *const schema_v1[] = {
	"CREATE TABLE tokend_schema (version integer NOT NULL)",
	"INSERT INTO tokend_schema VALUES (1)",
	"CREATE TABLE tokend_state ("
	"  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	"  seq bigint NOT NULL DEFAULT 0,"
	"  trimmed bigint NOT NULL DEFAULT 0)",
	"INSERT INTO tokend_state DEFAULT VALUES",
	"CREATE TABLE tokend_users (name text PRIMARY KEY)",
	"CREATE TABLE tokend_tokens ("
	"  id bigint PRIMARY KEY,"
	"  user_name text NOT NULL,"
	"  uid bigint NOT NULL,"
	"  kind smallint NOT NULL,"
	"  created bigint NOT NULL,"
	"  expires bigint NOT NULL,"
	"  last_used bigint NOT NULL DEFAULT 0,"
	"  hash bytea NOT NULL,"
	"  name text NOT NULL,"
	"  scopes text NOT NULL DEFAULT '',"
	"  rotated_to bigint NOT NULL DEFAULT 0,"
	"  overlap_until bigint NOT NULL DEFAULT 0,"
	"  rotated_from bigint NOT NULL DEFAULT 0)",
	"CREATE INDEX tokend_tokens_user ON tokend_tokens (user_name)",
	"CREATE INDEX tokend_tokens_expires ON tokend_tokens (expires)",
	"CREATE TABLE tokend_log ("
	"  seq bigint PRIMARY KEY,"
	"  id bigint NOT NULL,"
	"  at timestamptz NOT NULL DEFAULT now())",

	"CREATE FUNCTION tokend_changed(p_id bigint) RETURNS bigint"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE s bigint;"
	" BEGIN"
	"  UPDATE tokend_state SET seq = seq + 1 RETURNING seq INTO s;"
	"  INSERT INTO tokend_log (seq, id) VALUES (s, p_id);"
	"  PERFORM pg_notify('tokend', s::text);"
	"  RETURN s;"
	" END $$",

	"CREATE FUNCTION tokend_lock_user(p_user text) RETURNS void"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" BEGIN"
	"  INSERT INTO tokend_users (name) VALUES (p_user) ON CONFLICT DO NOTHING;"
	"  PERFORM 1 FROM tokend_users WHERE name = p_user FOR UPDATE;"
	" END $$",

	/* 0 stored, 1 the user's limit, 2 the name is taken, 3 the id exists. */
	"CREATE FUNCTION tokend_issue(p_id bigint, p_user text, p_uid bigint,"
	"  p_kind smallint, p_created bigint, p_expires bigint, p_hash bytea,"
	"  p_name text, p_scopes text, p_max integer, p_now bigint)"
	" RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE n integer;"
	" BEGIN"
	"  PERFORM tokend_lock_user(p_user);"
	"  IF EXISTS (SELECT 1 FROM tokend_tokens WHERE user_name = p_user"
	"    AND name = p_name AND expires > p_now AND rotated_to = 0) THEN"
	"   RETURN 2;"
	"  END IF;"
	"  SELECT count(*) INTO n FROM tokend_tokens WHERE user_name = p_user"
	"   AND expires > p_now AND rotated_to = 0;"
	"  IF p_max > 0 AND n >= p_max THEN RETURN 1; END IF;"
	"  INSERT INTO tokend_tokens (id, user_name, uid, kind, created, expires,"
	"    hash, name, scopes)"
	"   VALUES (p_id, p_user, p_uid, p_kind, p_created, p_expires, p_hash,"
	"    p_name, p_scopes) ON CONFLICT (id) DO NOTHING;"
	"  IF NOT FOUND THEN RETURN 3; END IF;"
	"  PERFORM tokend_changed(p_id);"
	"  RETURN 0;"
	" END $$",

	/* The token, and those it was rotated from (one may be in its overlap). */
	"CREATE FUNCTION tokend_revoke(p_id bigint) RETURNS SETOF tokend_tokens"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE r tokend_tokens; cur bigint; nxt bigint; hops integer := 0;"
	" BEGIN"
	"  DELETE FROM tokend_tokens WHERE id = p_id RETURNING * INTO r;"
	"  IF NOT FOUND THEN RETURN; END IF;"
	"  PERFORM tokend_changed(p_id);"
	"  cur := r.rotated_from;"
	"  WHILE cur <> 0 AND hops < 8 LOOP"
	"   DELETE FROM tokend_tokens WHERE id = cur RETURNING rotated_from INTO nxt;"
	"   EXIT WHEN NOT FOUND;"
	"   PERFORM tokend_changed(cur);"
	"   cur := nxt;"
	"   hops := hops + 1;"
	"  END LOOP;"
	"  RETURN NEXT r;"
	" END $$",

	/*
	 * ROTATE (store_write.c's rotate_in, in SQL): 0 done, 1 no such
	 * token, 2 rotated already.  Of the tokens rotated before p_old,
	 * p_keep - 1 stay (a replay of any is caught); the one beyond goes.
	 */
	"CREATE FUNCTION tokend_rotate(p_old bigint, p_new bigint, p_hash bytea,"
	"  p_created bigint, p_until bigint, p_keep integer) RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE o tokend_tokens; cur bigint; nxt bigint; depth integer := 1;"
	" BEGIN"
	"  SELECT * INTO o FROM tokend_tokens WHERE id = p_old;"
	"  IF NOT FOUND THEN RETURN 1; END IF;"
	"  PERFORM tokend_lock_user(o.user_name);"
	"  SELECT * INTO o FROM tokend_tokens WHERE id = p_old;"
	"  IF NOT FOUND THEN RETURN 1; END IF;"
	"  IF o.rotated_to <> 0 THEN RETURN 2; END IF;"
	"  cur := o.rotated_from;"
	"  WHILE cur <> 0 LOOP"
	"   SELECT rotated_from INTO nxt FROM tokend_tokens WHERE id = cur;"
	"   EXIT WHEN NOT FOUND;"
	"   IF depth >= p_keep - 1 THEN"
	"    IF nxt <> 0 THEN"
	"     DELETE FROM tokend_tokens WHERE id = nxt;"
	"     PERFORM tokend_changed(nxt);"
	"     UPDATE tokend_tokens SET rotated_from = 0 WHERE id = cur;"
	"     PERFORM tokend_changed(cur);"
	"    END IF;"
	"    EXIT;"
	"   END IF;"
	"   cur := nxt;"
	"   depth := depth + 1;"
	"  END LOOP;"
	"  INSERT INTO tokend_tokens (id, user_name, uid, kind, created, expires,"
	"    hash, name, scopes, rotated_from)"
	"   VALUES (p_new, o.user_name, o.uid, o.kind, p_created, o.expires,"
	"    p_hash, o.name, o.scopes, p_old);"
	"  UPDATE tokend_tokens SET rotated_to = p_new, overlap_until = p_until"
	"   WHERE id = p_old;"
	"  PERFORM tokend_changed(p_old);"
	"  PERFORM tokend_changed(p_new);"
	"  RETURN 0;"
	" END $$",

	/* A rotation whose answer was lost: the successor goes, p_old works on. */
	"CREATE FUNCTION tokend_unrotate(p_old bigint, p_next bigint)"
	" RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE u text;"
	" BEGIN"
	"  SELECT user_name INTO u FROM tokend_tokens WHERE id = p_old;"
	"  IF NOT FOUND THEN RETURN 1; END IF;"
	"  PERFORM tokend_lock_user(u);"
	"  UPDATE tokend_tokens SET rotated_to = 0, overlap_until = 0"
	"   WHERE id = p_old AND rotated_to = p_next;"
	"  IF NOT FOUND THEN RETURN 1; END IF;"
	"  DELETE FROM tokend_tokens WHERE id = p_next;"
	"  PERFORM tokend_changed(p_old);"
	"  PERFORM tokend_changed(p_next);"
	"  RETURN 0;"
	" END $$",

	/*
	 * Reuse of a rotated token: the whole chain, both ways (tokend_revoke
	 * takes it and those before it).  0, or -1 when there was none.
	 */
	"CREATE FUNCTION tokend_revoke_chain(p_id bigint) RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE r tokend_tokens; cur bigint; nxt bigint; hops integer := 0;"
	" BEGIN"
	"  SELECT * INTO r FROM tokend_revoke(p_id);"
	"  IF NOT FOUND THEN RETURN -1; END IF;"
	"  cur := r.rotated_to;"
	"  WHILE cur <> 0 AND hops < 8 LOOP"
	"   DELETE FROM tokend_tokens WHERE id = cur RETURNING rotated_to INTO nxt;"
	"   EXIT WHEN NOT FOUND;"
	"   PERFORM tokend_changed(cur);"
	"   cur := nxt; hops := hops + 1;"
	"  END LOOP;"
	"  RETURN 0;"
	" END $$",

	"CREATE FUNCTION tokend_revoke_user(p_user text) RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE r record; n integer := 0;"
	" BEGIN"
	"  PERFORM tokend_lock_user(p_user);"
	"  FOR r IN DELETE FROM tokend_tokens WHERE user_name = p_user"
	"    RETURNING id LOOP"
	"   PERFORM tokend_changed(r.id);"
	"   n := n + 1;"
	"  END LOOP;"
	"  RETURN n;"
	" END $$",

	/* No row: no such token.  unique_violation: the name is taken. */
	"CREATE FUNCTION tokend_rename(p_id bigint, p_name text, p_now bigint)"
	" RETURNS SETOF tokend_tokens"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE u text; r tokend_tokens;"
	" BEGIN"
	"  SELECT user_name INTO u FROM tokend_tokens WHERE id = p_id;"
	"  IF NOT FOUND THEN RETURN; END IF;"
	"  PERFORM tokend_lock_user(u);"
	"  IF EXISTS (SELECT 1 FROM tokend_tokens WHERE user_name = u"
	"    AND name = p_name AND id <> p_id AND expires > p_now"
	"    AND rotated_to = 0) THEN"
	"   RAISE EXCEPTION 'name exists' USING ERRCODE = 'unique_violation';"
	"  END IF;"
	"  UPDATE tokend_tokens SET name = p_name WHERE id = p_id RETURNING *"
	"   INTO r;"
	"  IF NOT FOUND THEN RETURN; END IF;"
	"  PERFORM tokend_changed(p_id);"
	"  RETURN NEXT r;"
	" END $$",

	/* Last-used times of many hosts: the latest wins; not logged. */
	"CREATE FUNCTION tokend_last_used(p_ids bigint[], p_times bigint[])"
	" RETURNS void"
	" LANGUAGE sql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	"  UPDATE tokend_tokens AS k SET last_used = v.t"
	"   FROM unnest(p_ids, p_times) AS v(id, t)"
	"   WHERE k.id = v.id AND k.last_used < v.t"
	" $$",

	/*
	 * Expired tokens are inactive everywhere already: no log entry.  Log
	 * rows older than a day go; a host further behind takes a snapshot.
	 */
	"CREATE FUNCTION tokend_purge(p_now bigint) RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$"
	" DECLARE n integer; m bigint;"
	" BEGIN"
	"  DELETE FROM tokend_tokens WHERE expires <= p_now;"
	"  GET DIAGNOSTICS n = ROW_COUNT;"
	"  SELECT max(seq) INTO m FROM tokend_log"
	"   WHERE at < now() - interval '1 day';"
	"  IF m IS NOT NULL THEN"
	"   DELETE FROM tokend_log WHERE seq <= m;"
	"   UPDATE tokend_state SET trimmed = greatest(trimmed, m);"
	"  END IF;"
	"  RETURN n;"
	" END $$",

	"REVOKE ALL ON FUNCTION tokend_changed(bigint), tokend_lock_user(text),"
	" tokend_issue(bigint, text, bigint, smallint, bigint, bigint, bytea,"
	"  text, text, integer, bigint),"
	" tokend_revoke(bigint), tokend_revoke_user(text),"
	" tokend_rename(bigint, text, bigint),"
	" tokend_rotate(bigint, bigint, bytea, bigint, bigint, integer),"
	" tokend_unrotate(bigint, bigint), tokend_revoke_chain(bigint),"
	" tokend_last_used(bigint[], bigint[]), tokend_purge(bigint)"
	" FROM PUBLIC",
	NULL
};

static const char *const *const fleet_schema_versions[] = { schema_v1 };

/* sql with @SCHEMA@ replaced by schema (quoted already). */
static char *
init_sql(const char *sql, const char *schema)
{
	const char	*at = strstr(sql, "@SCHEMA@");
	size_t		 n;
	char		*s;

	if (at == NULL)
		return strdup(sql);
	n = strlen(sql) + strlen(schema) + 1;
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "%.*s%s%s", (int)(at - sql), sql, schema, at + 8);
	return s;
}

static int
init_exec(PGconn *db, const char *sql)
{
	PGresult	*res = PQexec(db, sql);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
			    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "tokend: --init-db: %s\n  in: %.200s\n",
		    PQresultErrorMessage(res), sql);
	PQclear(res);
	return ok ? 0 : -1;
}

int
fleet_init_db(const char *conninfo)
{
	PGconn		*db;
	PGresult	*res;
	const char	*const *s;
	char		 schema[256], *sql;
	int		 version = 0, rc = -1, ok;

	db = PQconnectdb(conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "tokend: --init-db: cannot connect: %s",
		    PQerrorMessage(db));
		PQfinish(db);
		return -1;
	}
	/* Two hosts running --init-db at once: one waits for the other. */
	if (init_exec(db, "BEGIN") == -1 ||
	    init_exec(db, "SELECT pg_advisory_xact_lock(7411)") == -1)
		goto done;
	res = PQexec(db, "SELECT to_regclass('tokend_schema') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tokend: --init-db: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		res = PQexec(db, "SELECT max(version) FROM tokend_schema");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "tokend: --init-db: %s",
			    PQresultErrorMessage(res));
			PQclear(res);
			goto done;
		}
		version = atoi(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	if (version > FLEET_SCHEMA_VERSION) {
		fprintf(stderr, "tokend: --init-db: the database has schema "
		    "version %d, newer than this tokend's (%d): upgrade tokend\n",
		    version, FLEET_SCHEMA_VERSION);
		goto done;
	}
	if (version == FLEET_SCHEMA_VERSION) {
		printf("schema version %d: up to date in database %s\n",
		    version, PQdb(db));
		rc = init_exec(db, "COMMIT");
		goto done;
	}
	res = PQexec(db, "SELECT quote_ident(current_schema())");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		fprintf(stderr, "tokend: --init-db: no schema to create the "
		    "tables in (search_path)\n");
		PQclear(res);
		goto done;
	}
	snprintf(schema, sizeof(schema), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (; version < FLEET_SCHEMA_VERSION; version++)
		for (s = fleet_schema_versions[version]; *s != NULL; s++) {
			if ((sql = init_sql(*s, schema)) == NULL)
				goto done;
			ok = init_exec(db, sql);
			free(sql);
			if (ok == -1)
				goto done;
		}
	if (init_exec(db, "COMMIT") == -1)
		goto done;
	printf("schema version %d created in database %s; grant the daemons' "
	    "role SELECT on tokend_tokens, tokend_log, tokend_state and "
	    "tokend_schema and EXECUTE on the tokend_* functions "
	    "(tokend.conf(5), FLEET MODE)\n", FLEET_SCHEMA_VERSION, PQdb(db));
	rc = 0;
done:
	PQfinish(db);
	return rc;
}

/* What tokend --import-lmdb counted. */
struct import_counts {
	PGconn		*db;
	int64_t		 now;
	unsigned	 imported, there, skipped, failed;
};

static int
import_cb(const struct token_record *rec, void *arg)
{
	struct import_counts	*ic = arg;
	PGresult		*res;
	struct fleet_issue_params ip;
	const char		*lv[2];
	char			 ids[40], times[40];
	int			 r;

	/*
	 * Expired tokens are no use; a rotated one in its overlap is left
	 * out too (its successor, which is live, comes in as a token of its
	 * own; the old one would need its whole chain).
	 */
	if (rec->expires <= ic->now || rec->rotated_to != 0) {
		ic->skipped++;
		return 0;
	}
	/* No limit: these tokens exist already. */
	fleet_issue_params(&ip, rec, 0, ic->now);
	/* Already there (a second run): leave it as the fleet has it. */
	res = PQexecParams(ic->db, "SELECT 1 FROM tokend_tokens WHERE id = $1",
	    1, NULL, ip.v, NULL, NULL, 0);
	r = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
	PQclear(res);
	if (r == 1) {
		ic->there++;
		return 0;
	}
	res = PQexecParams(ic->db, FLEET_ISSUE_SQL, FLEET_ISSUE_NPARAMS, NULL,
	    ip.v, NULL, NULL, 0);
	explicit_bzero(&ip, sizeof(ip));
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "tokend: --import-lmdb: token %" PRIu64 ": %s",
		    rec->id, PQresultErrorMessage(res));
		PQclear(res);
		ic->failed++;
		return -1;
	}
	r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (r == 3) {
		ic->there++;
		return 0;
	}
	if (r != 0) {
		fprintf(stderr, "tokend: --import-lmdb: %s already has a live "
		    "token named \"%s\" in the database: not imported\n",
		    rec->user, rec->name);
		ic->skipped++;
		return 0;
	}
	ic->imported++;
	if (rec->last_used != 0) {
		snprintf(ids, sizeof(ids), "{%" PRId64 "}", (int64_t)rec->id);
		snprintf(times, sizeof(times), "{%" PRId64 "}", rec->last_used);
		lv[0] = ids;
		lv[1] = times;
		res = PQexecParams(ic->db, "SELECT tokend_last_used($1, $2)", 2,
		    NULL, lv, NULL, NULL, 0);
		PQclear(res);
	}
	return 0;
}

int
fleet_import_lmdb(const char *conninfo, const char *dir, uint64_t map_size)
{
	struct import_counts	 ic;
	struct store		*st = NULL;
	char			*cause = NULL;
	int			 rc;

	memset(&ic, 0, sizeof(ic));
	ic.now = (int64_t)time(NULL);
	if (store_open(&st, dir, (size_t)map_size, &cause) != STORE_OK) {
		fprintf(stderr, "tokend: --import-lmdb: %s: %s\n", dir,
		    cause != NULL ? cause : "cannot open");
		free(cause);
		return -1;
	}
	ic.db = PQconnectdb(conninfo);
	if (PQstatus(ic.db) != CONNECTION_OK) {
		fprintf(stderr, "tokend: --import-lmdb: cannot connect: %s",
		    PQerrorMessage(ic.db));
		PQfinish(ic.db);
		store_close(st);
		return -1;
	}
	rc = store_list(st, 1, 0, 0, import_cb, &ic);
	printf("imported %u token%s from %s; %u already in the database, %u "
	    "left out (expired, in a rotation, or a name taken)%s\n",
	    ic.imported, ic.imported == 1 ? "" : "s", dir, ic.there, ic.skipped,
	    rc == STORE_OK ? "" : "; stopped at an error");
	PQfinish(ic.db);
	store_close(st);
	return rc == STORE_OK ? 0 : -1;
}
