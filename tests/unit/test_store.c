/* SPDX-License-Identifier: ISC */
/* Unit tests for daemon/store.c against a real LMDB in a temporary folder. */

#include <sys/stat.h>

#include <ftw.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

#define NOW	1700000000LL

struct ids {
	uint64_t	id[64];
	uint32_t	uid[64];
	size_t		n;
	size_t		stop_after;	/* 0: never stop */
	int		stop_ok;	/* stop with 1 (no error), not -1 */
};

static void
mkrec(struct token_record *rec, uint64_t id, uint32_t uid, const char *name,
    int64_t expires)
{
	memset(rec, 0, sizeof *rec);
	rec->id = id;
	rec->kind = TOKEN_REFRESH;
	rec->uid = uid;
	rec->created = NOW - 100;
	rec->expires = expires;
	snprintf(rec->user, sizeof rec->user, "user%u", uid);
	snprintf(rec->name, sizeof rec->name, "%s", name);
	memset(rec->hash, (int)(id & 0xff), sizeof rec->hash);
	rec->nscopes = 1;
	snprintf(rec->scopes[0], sizeof rec->scopes[0], "read");
}

/* A put as if made at time now (records expired then are purged). */
static int
put_at(struct store *st, uint64_t id, uint32_t uid, const char *name,
    int64_t expires, unsigned max, int64_t now)
{
	struct token_record	 rec;
	char			*cause = NULL;
	int			 ret;

	mkrec(&rec, id, uid, name, expires);
	ret = store_put_token(st, &rec, max, now, &cause);
	if ((ret == STORE_OK) != (cause == NULL))
		fprintf(stderr, "put %llu: result %d but cause %s\n",
		    (unsigned long long)id, ret, cause ? cause : "NULL");
	free(cause);
	return (ret);
}

static int
put(struct store *st, uint64_t id, uint32_t uid, const char *name,
    int64_t expires, unsigned max)
{
	return (put_at(st, id, uid, name, expires, max, NOW));
}

static int
collect_cb(const struct token_record *rec, void *arg)
{
	struct ids	*ids = arg;

	if (ids->n < 64) {
		ids->id[ids->n] = rec->id;
		ids->uid[ids->n] = rec->uid;
	}
	ids->n++;
	if (ids->stop_after != 0 && ids->n >= ids->stop_after)
		return (ids->stop_ok ? 1 : -1);
	return (0);
}

static size_t
list(struct store *st, int all, uint32_t uid, struct ids *ids)
{
	memset(ids, 0, sizeof *ids);
	if (store_list(st, all, uid, 0, collect_cb, ids) != STORE_OK)
		return ((size_t)-1);
	return (ids->n);
}

static int
has(const struct ids *ids, uint64_t id)
{
	size_t	i;

	for (i = 0; i < ids->n && i < 64; i++)
		if (ids->id[i] == id)
			return (1);
	return (0);
}

static int
sorted(const struct ids *ids)
{
	size_t	i;

	for (i = 1; i < ids->n && i < 64; i++)
		if (ids->id[i - 1] >= ids->id[i])
			return (0);
	return (1);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

/* Entries of each database, read with plain LMDB while the store is closed. */
static int
raw_counts(const char *dir, size_t n[3])
{
	static const char *const names[3] = { "tokens", "byuser", "byexpiry" };
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_stat	 ms;
	int		 i, rc = -1;

	if (mdb_env_create(&env) != 0)
		return (-1);
	mdb_env_set_maxdbs(env, 3);
	if (mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		goto out;
	for (i = 0; i < 3; i++) {
		if (mdb_dbi_open(txn, names[i], 0, &dbi) != 0 ||
		    mdb_stat(txn, dbi, &ms) != 0)
			break;
		n[i] = ms.ms_entries;
	}
	mdb_txn_abort(txn);
	rc = (i == 3) ? 0 : -1;
out:
	mdb_env_close(env);
	return (rc);
}

/* Write a raw value into "tokens" (to plant an undecodable record). */
static int
raw_put(const char *dir, uint64_t id, const void *data, size_t len)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 key, val;
	uint8_t		 k[8];
	int		 i, rc = -1;

	for (i = 0; i < 8; i++)
		k[i] = (uint8_t)(id >> (56 - 8 * i));
	if (mdb_env_create(&env) != 0)
		return (-1);
	mdb_env_set_maxdbs(env, 3);
	if (mdb_env_open(env, dir, 0, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0)
		goto out;
	key.mv_size = sizeof k;
	key.mv_data = k;
	val.mv_size = len;
	val.mv_data = (void *)(uintptr_t)data;
	if (mdb_dbi_open(txn, "tokens", 0, &dbi) != 0 ||
	    mdb_put(txn, dbi, &key, &val, 0) != 0) {
		mdb_txn_abort(txn);
		goto out;
	}
	rc = mdb_txn_commit(txn) == 0 ? 0 : -1;
out:
	mdb_env_close(env);
	return (rc);
}

static void
test_roundtrip(struct store *st)
{
	struct token_record	 rec, got;
	char			*cause = NULL;
	unsigned		 i;

	memset(&rec, 0, sizeof rec);
	rec.id = 0x0102030405060708ULL;
	rec.kind = TOKEN_REFRESH;
	rec.uid = 0xfffffffe;
	rec.created = NOW;
	rec.expires = NOW + 90 * 86400;
	rec.last_used = NOW + 5;
	for (i = 0; i < sizeof rec.hash; i++)
		rec.hash[i] = (uint8_t)(i * 7 + 1);
	memset(rec.user, 'u', TOKEND_USER_MAX);
	memset(rec.name, 'n', TOKEND_NAME_MAX);
	rec.nscopes = TOKEND_SCOPES_MAX;
	for (i = 0; i < TOKEND_SCOPES_MAX; i++)
		snprintf(rec.scopes[i], sizeof rec.scopes[i], "scope-%u", i);
	memset(rec.scopes[3], 's', TOKEND_SCOPE_MAX);
	rec.scopes[5][0] = '\0';

	CHECK(store_put_token(st, &rec, 50, NOW, &cause) == STORE_OK,
	    "put a record with every field at its maximum");
	CHECK(cause == NULL, "no cause on success");
	memset(&got, 0xa5, sizeof got);
	CHECK(store_get_token(st, rec.id, &got) == STORE_OK, "get it back");
	CHECK(got.id == rec.id && got.kind == rec.kind && got.uid == rec.uid,
	    "id, kind, uid");
	CHECK(got.created == rec.created && got.expires == rec.expires &&
	    got.last_used == rec.last_used, "times");
	CHECK(memcmp(got.hash, rec.hash, sizeof rec.hash) == 0, "hash");
	CHECK(strcmp(got.user, rec.user) == 0, "user (256 bytes)");
	CHECK(strcmp(got.name, rec.name) == 0, "name (64 bytes)");
	CHECK(got.nscopes == rec.nscopes, "nscopes");
	for (i = 0; i < TOKEND_SCOPES_MAX; i++)
		if (strcmp(got.scopes[i], rec.scopes[i]) != 0)
			break;
	CHECK(i == TOKEND_SCOPES_MAX, "all scopes");
	CHECK(store_get_token(st, 42424242, &got) == STORE_NOTFOUND,
	    "unknown id is NOTFOUND");

	CHECK(store_put_token(st, &rec, 50, NOW, &cause) == STORE_EXISTS,
	    "same id again is EXISTS");
	CHECK(cause != NULL, "EXISTS has a cause");
	free(cause);
	cause = NULL;

	rec.id++;
	rec.name[0] = 'x';
	rec.nscopes = TOKEND_SCOPES_MAX + 1;
	CHECK(store_put_token(st, &rec, 50, NOW, &cause) == STORE_ERR,
	    "too many scopes is refused");
	free(cause);
	cause = NULL;
	rec.nscopes = 1;
	memset(rec.name, 'n', sizeof rec.name);		/* no NUL */
	CHECK(store_put_token(st, &rec, 50, NOW, &cause) == STORE_ERR,
	    "unterminated name is refused");
	free(cause);
	CHECK(store_get_token(st, rec.id, &got) == STORE_NOTFOUND,
	    "refused records are not stored");
}

/* The writer thread's batch: one commit, each op on its own. */
/* One op alone, through the writer's path. */
static int
apply_one(struct store *st, struct store_op *op)
{
	struct store_op	*p = op;

	op->now = NOW;
	store_apply(st, &p, 1);
	free(op->cause);
	op->cause = NULL;
	return (op->result);
}

static void
test_rotate(struct store *st)
{
	struct store_op		op;
	struct token_record	got;

	CHECK(put_at(st, 900, 9000, "job", NOW + 1000, 2, NOW) == STORE_OK,
	    "rotate: put the first");
	CHECK(put_at(st, 901, 9000, "other", NOW + 1000, 2, NOW) == STORE_OK,
	    "rotate: a second token fills the quota of 2");
	memset(&op, 0, sizeof op);
	op.type = STORE_OP_ROTATE;
	op.id = 900;
	mkrec(&op.rec, 910, 9000, "job", NOW + 1000);
	op.until = NOW + 60;
	CHECK(apply_one(st, &op) == STORE_OK,
	    "rotate: with the quota full (the successor takes the old place)");
	CHECK(store_get_token(st, 900, &got) == STORE_OK &&
	    got.rotated_to == 910 && got.overlap_until == NOW + 60 &&
	    got.rotated_from == 0, "rotate: the old record names its successor");
	CHECK(store_get_token(st, 910, &got) == STORE_OK &&
	    got.rotated_from == 900 && got.rotated_to == 0 &&
	    strcmp(got.name, "job") == 0, "rotate: the successor, its name");
	CHECK(put_at(st, 902, 9000, "job", NOW + 1000, 3, NOW) == STORE_EXISTS,
	    "rotate: the name is the successor's");
	memset(&op, 0, sizeof op);
	op.type = STORE_OP_ROTATE;
	op.id = 900;
	mkrec(&op.rec, 911, 9000, "job", NOW + 1000);
	CHECK(apply_one(st, &op) == STORE_EXISTS,
	    "rotate: a rotated token cannot rotate again");
	CHECK(store_get_token(st, 911, &got) == STORE_NOTFOUND,
	    "rotate: ... and left no record");
	/* 910 -> 920 -> 930 -> 940: three rotated tokens are kept. */
	{
		static const uint64_t	gen[] = { 910, 920, 930, 940 };
		size_t			g;

		for (g = 0; g + 1 < sizeof(gen) / sizeof(gen[0]); g++) {
			memset(&op, 0, sizeof op);
			op.type = STORE_OP_ROTATE;
			op.id = gen[g];
			mkrec(&op.rec, gen[g + 1], 9000, "job", NOW + 1000);
			op.until = NOW;
			CHECK(apply_one(st, &op) == STORE_OK,
			    "rotate: the successor rotates in turn");
		}
	}
	CHECK(store_get_token(st, 900, &got) == STORE_NOTFOUND,
	    "rotate: the fourth token back goes (three kept)");
	CHECK(store_get_token(st, 910, &got) == STORE_OK &&
	    got.rotated_to == 920 && got.rotated_from == 0,
	    "rotate: the oldest kept one points on, and back to nothing");
	CHECK(store_get_token(st, 930, &got) == STORE_OK &&
	    got.rotated_to == 940 && got.rotated_from == 920,
	    "rotate: the kept ones keep their links");
	memset(&op, 0, sizeof op);
	op.type = STORE_OP_DEL_CHAIN;
	op.id = 910;
	CHECK(apply_one(st, &op) == STORE_OK && op.rec.rotated_to == 920,
	    "reuse: a replay of the oldest kept token");
	CHECK(store_get_token(st, 910, &got) == STORE_NOTFOUND &&
	    store_get_token(st, 920, &got) == STORE_NOTFOUND &&
	    store_get_token(st, 930, &got) == STORE_NOTFOUND &&
	    store_get_token(st, 940, &got) == STORE_NOTFOUND,
	    "reuse: the whole chain is gone, the live token too");
	CHECK(store_get_token(st, 901, &got) == STORE_OK && got.rotated_to == 0 &&
	    got.rotated_from == 0, "rotate: a record of before has no trailer");
}

static void
test_apply(struct store *st)
{
	struct store_op		 ops[5], *p[5];
	struct store_stats	 before, after;
	struct token_record	 got;
	size_t			 i;

	memset(ops, 0, sizeof ops);
	for (i = 0; i < 5; i++)
		p[i] = &ops[i];
	ops[0].type = STORE_OP_PUT;
	mkrec(&ops[0].rec, 700, 7000, "one", NOW + 100);
	ops[1].type = STORE_OP_PUT;	/* same name for the same uid */
	mkrec(&ops[1].rec, 701, 7000, "one", NOW + 100);
	ops[2].type = STORE_OP_PUT;
	mkrec(&ops[2].rec, 702, 7000, "two", NOW + 100);
	ops[3].type = STORE_OP_DEL;	/* not there */
	ops[3].id = 4242;
	ops[4].type = STORE_OP_DEL;	/* put by op 2 of the same batch */
	ops[4].id = 702;
	for (i = 0; i < 5; i++)
		ops[i].now = NOW;

	store_get_stats(st, &before);
	store_apply(st, p, 5);
	store_get_stats(st, &after);
	CHECK(ops[0].result == STORE_OK && ops[0].cause == NULL,
	    "apply: first put OK");
	CHECK(ops[1].result == STORE_EXISTS && ops[1].cause != NULL,
	    "apply: a name taken earlier in the batch is EXISTS");
	CHECK(ops[2].result == STORE_OK, "apply: the put after a failed one OK");
	CHECK(ops[3].result == STORE_NOTFOUND, "apply: delete of nothing");
	CHECK(ops[4].result == STORE_OK && ops[4].rec.id == 702 &&
	    strcmp(ops[4].rec.name, "two") == 0,
	    "apply: delete sees the batch's own put, returns the record");
	CHECK(after.write_txns == before.write_txns + 1,
	    "apply: one transaction for the batch");
	CHECK(store_get_token(st, 700, &got) == STORE_OK &&
	    strcmp(got.name, "one") == 0, "apply: the put is stored");
	CHECK(store_get_token(st, 701, &got) == STORE_NOTFOUND,
	    "apply: the failed put left nothing");
	CHECK(store_get_token(st, 702, &got) == STORE_NOTFOUND,
	    "apply: put then delete in one batch leaves nothing");
	for (i = 0; i < 5; i++)
		free(ops[i].cause);

	/* Nothing to write: no transaction committed. */
	memset(ops, 0, sizeof ops);
	ops[0].type = STORE_OP_PURGE;
	ops[0].now = 1;
	store_apply(st, p, 1);
	store_get_stats(st, &before);
	CHECK(ops[0].result == STORE_OK && ops[0].count == 0 &&
	    before.write_txns == after.write_txns,
	    "apply: an empty purge commits nothing");
}

static void
test_names_limits(struct store *st)
{
	struct token_record	 got;
	struct ids		 ids;

	CHECK(put(st, 100, 1000, "ci", NOW + 100, 50) == STORE_OK, "put ci");
	CHECK(put(st, 101, 1000, "ci", NOW + 100, 50) == STORE_EXISTS,
	    "same name same uid is EXISTS");
	CHECK(put(st, 101, 1001, "ci", NOW + 100, 50) == STORE_OK,
	    "same name other uid is fine");
	CHECK(put(st, 102, 1000, "CI", NOW + 100, 50) == STORE_OK,
	    "names are case-sensitive");

	CHECK(put(st, 110, 2000, "old", NOW - 10, 50) == STORE_OK,
	    "put an already expired token");
	CHECK(put(st, 111, 2000, "old", NOW + 100, 50) == STORE_OK,
	    "expired same-name token does not block");
	CHECK(store_get_token(st, 110, &got) == STORE_NOTFOUND,
	    "expired same-name token was replaced");
	CHECK(list(st, 0, 2000, &ids) == 1 && ids.id[0] == 111,
	    "uid 2000 lists only the new one");
	CHECK(put(st, 112, 2000, "now", NOW, 50) == STORE_OK,
	    "put a token expiring exactly now");
	CHECK(put(st, 113, 2000, "now", NOW + 100, 50) == STORE_OK,
	    "expires == now counts as expired");

	CHECK(put(st, 120, 3000, "a", NOW + 100, 3) == STORE_OK, "limit 1/3");
	CHECK(put(st, 121, 3000, "b", NOW + 100, 3) == STORE_OK, "limit 2/3");
	CHECK(put(st, 122, 3000, "c", NOW + 100, 3) == STORE_OK, "limit 3/3");
	CHECK(put(st, 123, 3000, "d", NOW + 100, 3) == STORE_LIMIT,
	    "fourth token is LIMIT");
	CHECK(put(st, 123, 3000, "d", NOW + 100, 0) == STORE_OK,
	    "max 0 means no limit");
	CHECK(put(st, 124, 3000, "a", NOW + 100, 3) == STORE_EXISTS,
	    "name clash is reported before the limit");

	CHECK(put(st, 130, 3001, "gone", NOW - 1, 1) == STORE_OK,
	    "expired token for uid 3001");
	CHECK(put(st, 131, 3001, "live", NOW + 100, 1) == STORE_OK,
	    "expired tokens do not count toward the limit");
	CHECK(put(st, 132, 3001, "more", NOW + 100, 1) == STORE_LIMIT,
	    "but live ones do");
	CHECK(store_get_token(st, 130, &got) == STORE_NOTFOUND,
	    "the put deleted the uid's expired record");
}

/*
 * A user who issues short-lived tokens must not grow the database past
 * the limit: expired records go when the next one is put, however many.
 */
static void
test_quota_expired(struct store *st)
{
	struct ids	ids;
	uint64_t	id;
	int		ok = 1;

	char		name[16];

	for (id = 5000; id < 5200; id++) {
		snprintf(name, sizeof name, "t%u", (unsigned)id);
		if (put_at(st, id, 3002, name, NOW - 1, 0, NOW - 10) != STORE_OK)
			ok = 0;
	}
	CHECK(ok && list(st, 0, 3002, &ids) == 200,
	    "200 records of uid 3002, all expired by NOW");
	CHECK(put(st, 5300, 3002, "one", NOW + 100, 3) == STORE_OK,
	    "a put with a limit of 3 succeeds");
	CHECK(list(st, 0, 3002, &ids) == 1 && ids.id[0] == 5300,
	    "and leaves only the live record: all 200 expired ones went");
	CHECK(put(st, 5301, 3002, "two", NOW + 100, 3) == STORE_OK &&
	    put(st, 5302, 3002, "three", NOW + 100, 3) == STORE_OK &&
	    put(st, 5303, 3002, "four", NOW + 100, 3) == STORE_LIMIT,
	    "the limit still counts live records");
	CHECK(list(st, 0, 3002, &ids) == 3, "three records, not more");
}

static void
test_delete_list(struct store *st)
{
	struct token_record	 got;
	struct ids		 ids;
	struct store_stats	 ss;
	char			*cause = NULL;
	unsigned		 count = 99;
	size_t			 n;

	CHECK(list(st, 0, 3000, &ids) == 4, "uid 3000 has four tokens");
	CHECK(sorted(&ids), "per-uid list is in id order");
	memset(&got, 0, sizeof got);
	CHECK(store_del_token(st, 121, &got, &cause) == STORE_OK,
	    "delete one");
	CHECK(cause == NULL && got.id == 121 && got.uid == 3000 &&
	    strcmp(got.name, "b") == 0, "deleted record is returned");
	CHECK(store_get_token(st, 121, &got) == STORE_NOTFOUND,
	    "deleted token is gone");
	CHECK(list(st, 0, 3000, &ids) == 3 && !has(&ids, 121),
	    "list excludes it");
	CHECK(store_del_token(st, 121, NULL, &cause) == STORE_NOTFOUND,
	    "deleting it again is NOTFOUND");
	CHECK(cause != NULL, "NOTFOUND has a cause");
	free(cause);
	cause = NULL;
	CHECK(put(st, 121, 3000, "b", NOW + 100, 0) == STORE_OK,
	    "id and name are free again");

	CHECK(list(st, 1, 0, &ids) > 10, "list all");
	CHECK(sorted(&ids), "list all is in id order");
	n = ids.n;
	store_get_stats(st, &ss);
	CHECK(ss.tokens == n, "stats count matches list all");
	CHECK(list(st, 0, 1000, &ids) == 2 && ids.id[0] == 100 &&
	    ids.id[1] == 102, "uid 1000 lists exactly its own");
	CHECK(list(st, 0, 999, &ids) == 0, "unknown uid lists nothing");
	list(st, 0, 1001, &ids);
	CHECK(ids.n == 1 && ids.id[0] == 101 && ids.uid[0] == 1001,
	    "uid 1001 lists its ci");

	memset(&ids, 0, sizeof ids);
	ids.stop_after = 2;
	CHECK(store_list(st, 1, 0, 0, collect_cb, &ids) == STORE_ERR &&
	    ids.n == 2, "callback -1 stops the list");
	memset(&ids, 0, sizeof ids);
	ids.stop_after = 1;
	ids.stop_ok = 1;
	CHECK(store_list(st, 0, 1000, 0, collect_cb, &ids) == STORE_OK &&
	    ids.n == 1 && ids.id[0] == 100, "callback 1 stops the list, no error");
	memset(&ids, 0, sizeof ids);
	CHECK(store_list(st, 0, 1000, 101, collect_cb, &ids) == STORE_OK &&
	    ids.n == 1 && ids.id[0] == 102,
	    "a list of uid 1000 resumed from id 101 starts at 102");
	memset(&ids, 0, sizeof ids);
	CHECK(store_list(st, 1, 0, 102, collect_cb, &ids) == STORE_OK &&
	    ids.n == n - 2 && ids.id[0] == 102,
	    "a list of all resumed from id 102 skips 100 and 101");

	CHECK(store_del_user(st, 3000, &count, &cause) == STORE_OK &&
	    count == 4, "delete user removes four");
	CHECK(cause == NULL, "no cause");
	CHECK(list(st, 0, 3000, &ids) == 0, "uid 3000 lists nothing");
	CHECK(store_get_token(st, 120, &got) == STORE_NOTFOUND,
	    "its tokens are gone");
	CHECK(list(st, 0, 3001, &ids) == 1 && ids.id[0] == 131,
	    "neighbouring uid untouched (its live token; the put purged 130)");
	CHECK(store_del_user(st, 3000, &count, &cause) == STORE_OK &&
	    count == 0, "delete user again removes none");
	CHECK(list(st, 1, 0, &ids) == n - 4, "list all lost four");
}

static void
test_purge(struct store *st)
{
	struct token_record	 got;
	struct ids		 ids;
	char			*cause = NULL;
	unsigned		 count = 99;
	size_t			 i, expired = 0, before;

	/* Put at NOW - 100, when none had expired (a put purges those). */
	CHECK(put_at(st, 200, 4000, "p1", NOW - 50, 0, NOW - 100) == STORE_OK,
	    "put p1");
	CHECK(put_at(st, 201, 4000, "p2", NOW, 0, NOW - 100) == STORE_OK,
	    "put p2");
	CHECK(put_at(st, 202, 4000, "p3", NOW + 1, 0, NOW - 100) == STORE_OK,
	    "put p3");
	CHECK(put_at(st, 203, 4001, "p4", NOW - 1, 0, NOW - 100) == STORE_OK,
	    "put p4");

	before = list(st, 1, 0, &ids);
	for (i = 0; i < ids.n; i++) {
		if (store_get_token(st, ids.id[i], &got) == STORE_OK &&
		    got.expires <= NOW)
			expired++;
	}
	CHECK(expired >= 3, "some records are expired");
	CHECK(store_purge_expired(st, NOW, &count, &cause) == STORE_OK,
	    "purge");
	CHECK(cause == NULL && count == expired, "purge count is exact");
	CHECK(list(st, 1, 0, &ids) == before - expired, "purged ones gone");
	for (i = 0; i < ids.n; i++) {
		if (store_get_token(st, ids.id[i], &got) != STORE_OK ||
		    got.expires <= NOW)
			break;
	}
	CHECK(i == ids.n, "no expired record is left");
	CHECK(store_get_token(st, 200, &got) == STORE_NOTFOUND &&
	    store_get_token(st, 202, &got) == STORE_OK, "p1 gone, p3 kept");
	CHECK(list(st, 0, 4000, &ids) == 1 && ids.id[0] == 202,
	    "uid 4000 lists only p3");
	CHECK(store_purge_expired(st, NOW, &count, &cause) == STORE_OK &&
	    count == 0, "second purge finds nothing");
	CHECK(put(st, 200, 4000, "p1", NOW + 100, 1) == STORE_LIMIT,
	    "purged records do not hide the live one from the limit");
	CHECK(put(st, 200, 4000, "p1", NOW + 100, 2) == STORE_OK,
	    "same id and name as a purged one");
	CHECK(store_purge_expired(st, NOW + 1, &count, &cause) == STORE_OK &&
	    count == 1, "purge at now+1 takes p3 only");
	CHECK(store_get_token(st, 200, &got) == STORE_OK &&
	    got.expires == NOW + 100, "the new p1 survives");
}

static void
test_last_used(struct store *st)
{
	struct token_record	 got;
	uint64_t		 ids[3] = { 100, 777777, 101 };
	int64_t			 times[3] = { NOW + 60, NOW + 61, NOW + 62 };
	char			*cause = NULL;

	CHECK(store_get_token(st, 100, &got) == STORE_OK &&
	    got.last_used == 0, "never used");
	CHECK(store_set_last_used(st, ids, times, 3, &cause) == STORE_OK,
	    "set last used, one unknown id");
	CHECK(cause == NULL, "no cause");
	CHECK(store_get_token(st, 100, &got) == STORE_OK &&
	    got.last_used == NOW + 60 && strcmp(got.name, "ci") == 0 &&
	    got.expires == NOW + 100, "last used of 100, rest intact");
	CHECK(store_get_token(st, 101, &got) == STORE_OK &&
	    got.last_used == NOW + 62, "last used of 101");
	times[0] = NOW;
	CHECK(store_set_last_used(st, ids, times, 1, &cause) == STORE_OK &&
	    store_get_token(st, 100, &got) == STORE_OK &&
	    got.last_used == NOW + 60, "last used never goes back");
	CHECK(store_set_last_used(st, ids, times, 0, &cause) == STORE_OK,
	    "empty batch");
}

#define FULL_BATCH	800	/* more big records than a 1 MiB map holds */

/* A record near the largest: 16 scopes of 64 characters. */
static void
mkbig(struct token_record *rec, uint64_t id, const char *name)
{
	uint8_t	i;

	mkrec(rec, id, 9000, name, NOW + 1000);
	rec->nscopes = TOKEND_SCOPES_MAX;
	for (i = 0; i < TOKEND_SCOPES_MAX; i++) {
		memset(rec->scopes[i], 'a' + i, TOKEND_SCOPE_MAX);
		rec->scopes[i][TOKEND_SCOPE_MAX] = '\0';
	}
}

static void
test_full(const char *base)
{
	struct store		*st = NULL;
	struct store_stats	 ss;
	struct token_record	 got;
	struct ids		 ids;
	static struct store_op	 ops[FULL_BATCH + 1], *p[FULL_BATCH + 1];
	char			 dir[512], *cause = NULL;
	uint64_t		 id, i;
	size_t			 stored, full;
	int			 ret = STORE_OK;

	snprintf(dir, sizeof dir, "%s/full", base);
	/* 1 MiB: 256 pages, of which 64 are kept free for deletes. */
	CHECK(store_open(&st, dir, 1024 * 1024, &cause) == STORE_OK,
	    "open with a 1 MiB map");
	if (st == NULL) {
		fprintf(stderr, "open: %s\n", cause);
		free(cause);
		return;
	}
	for (id = 1; id < 100000; id++) {
		struct token_record	rec;
		char			name[32];

		snprintf(name, sizeof name, "t%llu", (unsigned long long)id);
		mkrec(&rec, id, (uint32_t)(id % 7), name, NOW + 1000);
		ret = store_put_token(st, &rec, 0, NOW, &cause);
		if (ret != STORE_OK)
			break;
	}
	CHECK(ret == STORE_FULL, "filling the map ends in STORE_FULL");
	CHECK(cause != NULL && strncmp(cause, "database full", 13) == 0,
	    "cause starts with \"database full\"");
	free(cause);
	cause = NULL;
	CHECK(id > 10, "some records fit before it was full");
	CHECK(store_get_token(st, 1, &got) == STORE_OK &&
	    strcmp(got.name, "t1") == 0, "first record still readable");
	CHECK(store_get_token(st, id - 1, &got) == STORE_OK,
	    "last stored record readable");
	CHECK(store_get_token(st, id, &got) == STORE_NOTFOUND,
	    "the failed put left nothing");
	CHECK(list(st, 1, 0, &ids) == id - 1, "list all sees every record");
	store_get_stats(st, &ss);
	CHECK(ss.tokens == id - 1 && ss.map_used <= ss.map_size &&
	    ss.map_used > ss.map_size / 2, "stats of a full map");
	/* A delete needs free pages too: the reserve guarantees them. */
	ret = store_del_token(st, 1, NULL, &cause);
	CHECK(ret == STORE_OK, "delete on a full map works (the reserve)");
	free(cause);
	cause = NULL;
	CHECK(store_get_token(st, 1, &got) ==
	    (ret == STORE_OK ? STORE_NOTFOUND : STORE_OK),
	    "and the record is gone exactly when it said so");
	CHECK(store_get_token(st, 2, &got) == STORE_OK, "others stay");

	/* Space freed by deletes counts again (the free list is read). */
	for (ret = STORE_OK, i = 2; i < id && ret == STORE_OK; i++)
		ret = store_del_token(st, i, NULL, NULL);
	CHECK(ret == STORE_OK, "every record deleted");
	ret = put(st, 1, 1, "again", NOW + 1000, 0);
	CHECK(ret == STORE_OK, "after deleting everything, a put fits again");

	/*
	 * A batch that fills the map itself: each put passes the room check
	 * made against the last commit, their sum does not.  The delete in
	 * it must still work, and the puts fail or succeed one by one.
	 */
	for (i = 0; i < FULL_BATCH; i++) {
		char	name[32];

		snprintf(name, sizeof name, "b%zu", i);
		memset(&ops[i], 0, sizeof ops[i]);
		ops[i].type = STORE_OP_PUT;
		ops[i].now = NOW;
		mkbig(&ops[i].rec, 5000 + i, name);
		p[i] = &ops[i];
	}
	memset(&ops[FULL_BATCH], 0, sizeof ops[FULL_BATCH]);
	ops[FULL_BATCH].type = STORE_OP_DEL;
	ops[FULL_BATCH].id = 1;
	p[FULL_BATCH] = &ops[FULL_BATCH];
	store_apply(st, p, FULL_BATCH + 1);
	for (i = 0, stored = 0, full = 0; i < FULL_BATCH; i++) {
		stored += ops[i].result == STORE_OK &&
		    store_get_token(st, 5000 + i, &got) == STORE_OK;
		full += ops[i].result == STORE_FULL;
		free(ops[i].cause);
	}
	CHECK(ops[FULL_BATCH].result == STORE_OK &&
	    store_get_token(st, 1, &got) == STORE_NOTFOUND,
	    "a delete in a batch that fills the map is done");
	CHECK(stored > 0 && full > 0 && stored + full == FULL_BATCH,
	    "and its puts are stored until the map is full, each answered");
	free(ops[FULL_BATCH].cause);
	store_close(st);
}

int
main(void)
{
	struct store		*st = NULL;
	struct store_stats	 ss;
	struct token_record	 got;
	struct ids		 ids;
	struct stat		 sb;
	char			 base[] = "/tmp/test_store.XXXXXX";
	char			 dir[512], path[600], *cause = NULL;
	size_t			 n[3] = { 0, 0, 0 }, ntokens;
	static const uint8_t	 junk[] = { 1, 2, 3 };

	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	snprintf(dir, sizeof dir, "%s/db", base);

	CHECK(store_open(&st, "/nonexistent/a/b", 0, &cause) == STORE_ERR &&
	    st == NULL && cause != NULL, "open in a missing path fails");
	free(cause);
	cause = NULL;

	if (store_open(&st, dir, 1 << 20, &cause) != STORE_OK) {
		fprintf(stderr, "store_open: %s\n", cause);
		return (1);
	}
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "data.mdb is mode 0600");

	test_roundtrip(st);
	test_names_limits(st);
	test_quota_expired(st);
	test_delete_list(st);
	test_purge(st);
	test_last_used(st);
	test_apply(st);
	test_rotate(st);

	store_get_stats(st, &ss);
	CHECK(ss.map_size == 1 << 20, "map size");
	CHECK(ss.map_used > 0 && ss.map_used < ss.map_size, "map used");
	CHECK(ss.write_txns > 20 && ss.read_txns > 20, "txn counters");
	ntokens = ss.tokens;
	store_close(st);
	st = NULL;

	CHECK(raw_counts(dir, n) == 0 && n[0] == ntokens && n[1] == ntokens &&
	    n[2] == ntokens, "every record has exactly its two index entries");
	CHECK(raw_put(dir, 999, junk, sizeof junk) == 0, "plant a bad record");

	CHECK(store_open(&st, dir, 1 << 20, &cause) == STORE_OK,
	    "reopen");
	if (st == NULL) {
		fprintf(stderr, "reopen: %s\n", cause);
		return (1);
	}
	CHECK(store_get_token(st, 100, &got) == STORE_OK &&
	    got.uid == 1000 && strcmp(got.name, "ci") == 0 &&
	    got.last_used == NOW + 60, "data survives close and reopen");
	CHECK(store_get_token(st, 0x0102030405060708ULL, &got) == STORE_OK &&
	    got.nscopes == TOKEND_SCOPES_MAX, "the big record too");
	CHECK(store_get_token(st, 999, &got) == STORE_ERR,
	    "undecodable record is an error for get");
	CHECK(list(st, 1, 0, &ids) == ntokens && !has(&ids, 999),
	    "and is skipped by list");
	CHECK(store_del_token(st, 999, NULL, &cause) == STORE_OK,
	    "but can be deleted");
	free(cause);
	store_close(st);

	test_full(base);

	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	CHECK(access(base, F_OK) == -1, "temporary folder removed");
	return (check_summary("store"));
}
