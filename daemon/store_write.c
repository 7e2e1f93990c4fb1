/* SPDX-License-Identifier: ISC */
/*
 * Writes to the token store (store.h): the synchronous calls, and
 * store_apply(), which runs a batch of them in one durable transaction
 * for the writer thread (writer.c).
 */

#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storeimpl.h"
#include "util.h"

/* Delete a key, tolerating its absence. */
static int
store_del_key(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t len,
    char **cause)
{
	MDB_val	key;
	int	rc;

	key.mv_size = len;
	key.mv_data = (void *)(uintptr_t)k;
	rc = mdb_del(txn, dbi, &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_error(rc, "mdb_del", cause);
	return STORE_OK;
}

/*
 * Delete id from all three databases inside txn.  A record that does not
 * decode is removed from "tokens" only; scans drop its index entries.
 */
static int
store_del_one(struct store *st, MDB_txn *txn, uint64_t id,
    struct token_record *out, char **cause)
{
	struct token_record	 rec;
	uint8_t			 k[STORE_ID_KEY], ku[STORE_USER_KEY];
	uint8_t			 ke[STORE_EXPIRY_KEY];
	MDB_val			 key, val;
	int			 rc, ret, decoded;

	store_key_id(k, id);
	key.mv_size = sizeof k;
	key.mv_data = k;
	rc = mdb_get(txn, st->tokens, &key, &val);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;	/* no cause: callers decide */
	if (rc != 0)
		return store_error(rc, "mdb_get", cause);
	decoded = (store_decode(&key, &val, &rec) == 0);

	if ((rc = mdb_del(txn, st->tokens, &key, NULL)) != 0)
		return store_error(rc, "mdb_del", cause);
	if (decoded) {
		store_key_user(ku, rec.uid, id);
		ret = store_del_key(txn, st->byuser, ku, sizeof ku, cause);
		if (ret != STORE_OK)
			return ret;
		store_key_expiry(ke, rec.expires, id);
		ret = store_del_key(txn, st->byexpiry, ke, sizeof ke, cause);
		if (ret != STORE_OK)
			return ret;
	} else {
		memset(&rec, 0, sizeof rec);
		rec.id = id;
	}
	if (out != NULL)
		*out = rec;
	return STORE_OK;
}

/*
 * Whether txn may add a record and still leave the room deletes need:
 * LMDB copies pages on write, so a delete in a full map can fail too.
 * Free pages are counted from the freelist (FREE_DBI), so space freed by
 * deletes counts again; LMDB opens that database only in a read-only
 * transaction, hence one of its own (allowed beside the write one by
 * MDB_NOTLS).  Keeps max(64 pages, 1/64 of the map) free.  A batch of the
 * writer thread is checked against the last commit, not its own growth:
 * store_apply() redoes a batch whose commit finds the map full op by op.
 */
static int
store_room(struct store *st)
{
	MDB_envinfo	 info;
	MDB_stat	 est;
	MDB_txn		*rtxn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 total, used, freep = 0, reserve, id0;

	if (mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &est) != 0)
		return 1;
	total = info.me_mapsize / est.ms_psize;
	used = info.me_last_pgno + 1;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &rtxn) == 0) {
		if (mdb_cursor_open(rtxn, 0, &cur) == 0) {
			while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
				if (v.mv_size >= sizeof(id0)) {
					/* an IDL starts with its length */
					memcpy(&id0, v.mv_data, sizeof(id0));
					freep += id0;
				}
			mdb_cursor_close(cur);
		}
		mdb_txn_abort(rtxn);
	}
	reserve = total / 64 > 64 ? total / 64 : 64;
	return used - (freep < used ? freep : used) + 16 + reserve <= total;
}

/* A new record (encoded in buf) and its two index entries. */
static int
insert_in(struct store *st, MDB_txn *txn, const struct token_record *rec,
    const uint8_t *buf, size_t len, char **cause)
{
	uint8_t	k[STORE_ID_KEY], ku[STORE_USER_KEY], ke[STORE_EXPIRY_KEY];
	MDB_val	key, val;
	int	rc;

	store_key_id(k, rec->id);
	key.mv_size = sizeof k;
	key.mv_data = k;
	val.mv_size = len;
	val.mv_data = (void *)(uintptr_t)buf;
	rc = mdb_put(txn, st->tokens, &key, &val, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		cause_set(cause, "token id exists");
		return STORE_EXISTS;
	}
	if (rc != 0)
		return store_error(rc, "mdb_put", cause);
	store_key_user(ku, rec->uid, rec->id);
	key.mv_size = sizeof ku;
	key.mv_data = ku;
	val.mv_size = 0;
	val.mv_data = NULL;
	if ((rc = mdb_put(txn, st->byuser, &key, &val, 0)) != 0)
		return store_error(rc, "mdb_put", cause);
	store_key_expiry(ke, rec->expires, rec->id);
	key.mv_size = sizeof ke;
	key.mv_data = ke;
	if ((rc = mdb_put(txn, st->byexpiry, &key, &val, 0)) != 0)
		return store_error(rc, "mdb_put", cause);
	return STORE_OK;
}

static int
put_in(struct store *st, MDB_txn *txn, const struct token_record *rec,
    unsigned max_per_user, int64_t now, char **cause)
{
	struct token_record	 old;
	uint8_t			 buf[STORE_REC_MAX], k[STORE_ID_KEY];
	uint8_t			 ku[STORE_USER_KEY];
	uint64_t		 stale[STORE_STALE_MAX], id;
	MDB_cursor		*cur = NULL;
	MDB_val			 key, val;
	size_t			 len, nstale, i;
	unsigned		 live;
	int			 rc, ret, found, more;

	if ((len = store_encode(rec, buf)) == 0) {
		cause_set(cause, "invalid token record");
		return STORE_ERR;
	}
	if (!store_room(st)) {
		cause_set(cause, "database full (the rest is kept free for "
		    "deletes; raise map_size)");
		return STORE_FULL;
	}

	store_key_id(k, rec->id);
	key.mv_size = sizeof k;
	key.mv_data = k;
	rc = mdb_get(txn, st->tokens, &key, &val);
	if (rc == 0) {
		cause_set(cause, "token id exists");
		ret = STORE_EXISTS;
		goto fail;
	}
	if (rc != MDB_NOTFOUND) {
		ret = store_error(rc, "mdb_get", cause);
		goto fail;
	}

	/*
	 * Count the uid's live tokens and look for the name among them.  Its
	 * expired records go now, in this transaction: they are no use to
	 * anyone, and counting only live ones while keeping the rest would
	 * let a user who issues short-lived tokens grow the database past
	 * max_per_user records between purges.
	 */
again:
	live = 0;
	nstale = 0;
	more = 0;
	if ((rc = mdb_cursor_open(txn, st->byuser, &cur)) != 0) {
		ret = store_error(rc, "mdb_cursor_open", cause);
		goto fail;
	}
	store_key_user(ku, rec->uid, 0);
	key.mv_size = sizeof ku;
	key.mv_data = ku;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size < 4 || memcmp(key.mv_data, ku, 4) != 0)
			break;
		if (key.mv_size != STORE_USER_KEY)
			continue;
		id = store_get64((const uint8_t *)key.mv_data + 4);
		if ((found = store_fetch(st, txn, id, &old, cause)) == -1) {
			ret = STORE_ERR;
			goto fail;
		}
		if (found != 0 || old.uid != rec->uid)
			continue;
		/* A rotated token has given its name and place to its successor. */
		if (old.expires > now && old.rotated_to != 0)
			continue;
		if (old.expires > now) {
			live++;
			if (strcmp(old.name, rec->name) == 0) {
				cause_set(cause, "name exists: %s",
				    rec->name);
				ret = STORE_EXISTS;
				goto fail;
			}
		} else if (nstale < STORE_STALE_MAX)
			stale[nstale++] = id;
		else
			more = 1;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		ret = store_error(rc, "mdb_cursor_get", cause);
		goto fail;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	for (i = 0; i < nstale; i++) {
		ret = store_del_one(st, txn, stale[i], NULL, cause);
		if (ret != STORE_OK && ret != STORE_NOTFOUND)
			goto fail;
	}
	if (more)
		goto again;
	if (max_per_user != 0 && live >= max_per_user) {
		cause_set(cause, "uid %u has %u tokens", rec->uid, live);
		ret = STORE_LIMIT;
		goto fail;
	}

	return insert_in(st, txn, rec, buf, len, cause);

fail:
	if (cur != NULL)
		mdb_cursor_close(cur);
	return ret;
}

static int
del_in(struct store *st, MDB_txn *txn, uint64_t id, struct token_record *rec,
    char **cause)
{
	int	ret;

	if ((ret = store_del_one(st, txn, id, rec, cause)) == STORE_NOTFOUND)
		cause_set(cause, "no such token");
	return ret;
}

/*
 * Delete what the first index entry starting with prefix points to, then
 * the entry itself (so a dangling entry goes too).  With no prefix (the
 * byexpiry scan) the first entry counts only if its expiry is <= now.
 * *done is set when no entry qualifies; *deleted when a record went.
 */
static int
store_del_first(struct store *st, MDB_txn *txn, MDB_cursor *cur,
    const uint8_t *prefix, size_t plen, size_t klen, int64_t now,
    int *done, int *deleted, char **cause)
{
	uint8_t	 kcur[STORE_EXPIRY_KEY];
	MDB_val	 key, val;
	int	 rc, ret;

	*done = *deleted = 0;
	key.mv_size = plen;
	key.mv_data = (void *)(uintptr_t)prefix;
	if (plen == 0)
		rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	else
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		*done = 1;
		return STORE_OK;
	}
	if (rc != 0)
		return store_error(rc, "mdb_cursor_get", cause);
	if (plen != 0 && (key.mv_size < plen ||
	    memcmp(key.mv_data, prefix, plen) != 0)) {
		*done = 1;
		return STORE_OK;
	}
	if (key.mv_size != klen) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			return store_error(rc, "mdb_cursor_del", cause);
		return STORE_OK;
	}
	memcpy(kcur, key.mv_data, klen);
	if (plen == 0 && (int64_t)store_get64(kcur) > now) {
		*done = 1;
		return STORE_OK;
	}

	ret = store_del_one(st, txn, store_get64(kcur + klen - 8), NULL, cause);
	if (ret == STORE_OK)
		*deleted = 1;
	else if (ret != STORE_NOTFOUND)
		return ret;
	return store_del_key(txn, mdb_cursor_dbi(cur), kcur, klen, cause);
}

static int
del_user_in(struct store *st, MDB_txn *txn, uint32_t uid, unsigned *count,
    char **cause)
{
	MDB_cursor	*cur = NULL;
	uint8_t		 prefix[4];
	int		 rc, ret, done, deleted;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, st->byuser, &cur)) != 0)
		return store_error(rc, "mdb_cursor_open", cause);
	store_put32(prefix, uid);
	for (;;) {
		ret = store_del_first(st, txn, cur, prefix, sizeof prefix,
		    STORE_USER_KEY, 0, &done, &deleted, cause);
		if (ret != STORE_OK) {
			*count = 0;
			break;
		}
		if (done)
			break;
		if (deleted)
			(*count)++;
	}
	mdb_cursor_close(cur);
	return ret;
}

/* *changed: whether anything was written (nothing to commit otherwise). */
static int
purge_in(struct store *st, MDB_txn *txn, int64_t now, unsigned *count,
    int *changed, char **cause)
{
	MDB_cursor	*cur = NULL;
	unsigned	 n;
	int		 rc, ret = STORE_OK, done = 0, deleted;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, st->byexpiry, &cur)) != 0)
		return store_error(rc, "mdb_cursor_open", cause);
	for (n = 0; n < STORE_PURGE_MAX && !done; n++) {
		ret = store_del_first(st, txn, cur, NULL, 0, STORE_EXPIRY_KEY,
		    now, &done, &deleted, cause);
		if (ret != STORE_OK) {
			*count = 0;
			break;
		}
		if (!done)
			*changed = 1;
		if (deleted)
			(*count)++;
	}
	mdb_cursor_close(cur);
	return ret;
}

/* Overwrite the record of rec->id (same indexes: id, uid and expiry kept). */
static int
update_in(struct store *st, MDB_txn *txn, const struct token_record *rec,
    char **cause)
{
	uint8_t	buf[STORE_REC_MAX], k[STORE_ID_KEY];
	MDB_val	key, val;
	size_t	len;
	int	rc;

	if ((len = store_encode(rec, buf)) == 0) {
		cause_set(cause, "invalid token record");
		return STORE_ERR;
	}
	store_key_id(k, rec->id);
	key.mv_size = sizeof k;
	key.mv_data = k;
	val.mv_size = len;
	val.mv_data = buf;
	if ((rc = mdb_put(txn, st->tokens, &key, &val, 0)) != 0)
		return store_error(rc, "mdb_put", cause);
	return STORE_OK;
}

/* last_used only moves forward, so a late batch cannot undo a newer one. */
static int
last_used_in(struct store *st, MDB_txn *txn, const uint64_t *ids,
    const int64_t *times, size_t n, int *changed, char **cause)
{
	struct token_record	 rec;
	size_t			 i;
	int			 rc;

	for (i = 0; i < n; i++) {
		if ((rc = store_fetch(st, txn, ids[i], &rec, cause)) == -1)
			return STORE_ERR;
		if (rc != 0 || times[i] <= rec.last_used)
			continue;
		rec.last_used = times[i];
		if ((rc = update_in(st, txn, &rec, cause)) != STORE_OK)
			return rc;
		*changed = 1;
	}
	return STORE_OK;
}

/*
 * Give token id the name in name: refused (STORE_EXISTS) when another
 * live token of its uid has it.  *rec gets the renamed record.
 */
static int
rename_in(struct store *st, MDB_txn *txn, uint64_t id, const char *name,
    int64_t now, struct token_record *rec, char **cause)
{
	struct token_record	 other;
	uint8_t			 ku[STORE_USER_KEY];
	MDB_cursor		*cur = NULL;
	MDB_val			 key, val;
	uint64_t		 oid;
	int			 rc, found;

	if ((found = store_fetch(st, txn, id, rec, cause)) == -1)
		return STORE_ERR;
	if (found != 0) {
		cause_set(cause, "no such token");
		return STORE_NOTFOUND;
	}
	if ((rc = mdb_cursor_open(txn, st->byuser, &cur)) != 0)
		return store_error(rc, "mdb_cursor_open", cause);
	store_key_user(ku, rec->uid, 0);
	key.mv_size = sizeof ku;
	key.mv_data = ku;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size < 4 || memcmp(key.mv_data, ku, 4) != 0)
			break;
		if (key.mv_size != STORE_USER_KEY)
			continue;
		oid = store_get64((const uint8_t *)key.mv_data + 4);
		if (oid == id)
			continue;
		if ((found = store_fetch(st, txn, oid, &other, cause)) == -1) {
			mdb_cursor_close(cur);
			return STORE_ERR;
		}
		if (found == 0 && other.uid == rec->uid &&
		    other.expires > now && other.rotated_to == 0 &&
		    strcmp(other.name, name) == 0) {
			mdb_cursor_close(cur);
			snprintf(rec->name, sizeof(rec->name), "%s", name);
			cause_set(cause, "name exists: %s", name);
			return STORE_EXISTS;
		}
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_error(rc, "mdb_cursor_get", cause);
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	return update_in(st, txn, rec, cause);
}

/*
 * Walk back from rec through the tokens it was rotated from.  cb is called
 * for each (nearest first) with its depth (1 = rec's predecessor); it may
 * stop the walk by returning 1.  A missing record ends the chain.
 */
static int
walk_back(struct store *st, MDB_txn *txn, const struct token_record *rec,
    int (*cb)(struct store *, MDB_txn *, struct token_record *, int, void *,
    char **), void *arg, char **cause)
{
	struct token_record	cur;
	uint64_t		prev = rec->rotated_from;
	int			depth, found, ret;

	for (depth = 1; prev != 0 && depth <= STORE_ROTATE_KEEP + 1; depth++) {
		if ((found = store_fetch(st, txn, prev, &cur, cause)) == -1)
			return STORE_ERR;
		if (found != 0)
			break;
		prev = cur.rotated_from;
		if ((ret = cb(st, txn, &cur, depth, arg, cause)) != 0)
			return ret == 1 ? STORE_OK : ret;
	}
	return STORE_OK;
}

/*
 * trim_chain's step.  The rotating token itself will be one kept token,
 * so its predecessor at depth KEEP - 1 is the last kept: the one before
 * that goes.
 */
static int
trim_cb(struct store *st, MDB_txn *txn, struct token_record *r, int depth,
    void *arg, char **cause)
{
	uint64_t	*gone = arg;
	uint64_t	 drop = r->rotated_from;
	int		 ret;

	if (depth < STORE_ROTATE_KEEP - 1 || drop == 0)
		return 0;
	ret = store_del_one(st, txn, drop, NULL, cause);
	if (ret != STORE_OK && ret != STORE_NOTFOUND)
		return ret;
	free(*cause);
	*cause = NULL;
	*gone = drop;
	r->rotated_from = 0;
	ret = update_in(st, txn, r, cause);
	return ret == STORE_OK ? 1 : ret;
}

/*
 * Before rec rotates: rec will be one of the STORE_ROTATE_KEEP tokens kept
 * (a replay of any of them is caught); of those rotated away before it,
 * keep the KEEP - 1 nearest and delete the one beyond, so that a chain
 * holds at most KEEP + 1 records.
 */
static int
trim_chain(struct store *st, MDB_txn *txn, const struct token_record *rec,
    uint64_t *gone, char **cause)
{
	*gone = 0;
	return walk_back(st, txn, rec, trim_cb, gone, cause);
}

/*
 * ROTATE: id makes way for next (a new record with id's name, scopes and
 * expiry).  id stays, pointing at next, until its expiry (reuse is then
 * detected); its own predecessor, kept for the same reason, goes now: one
 * kept predecessor per token bounds the database.  Refused (STORE_EXISTS)
 * when id was rotated already (two ROTATEs of one token).
 */
static int
rotate_in(struct store *st, MDB_txn *txn, uint64_t id,
    struct token_record *next, int64_t until, uint64_t *gone, char **cause)
{
	struct token_record	old;
	uint8_t			buf[STORE_REC_MAX];
	size_t			len;
	int			ret, found;

	if ((found = store_fetch(st, txn, id, &old, cause)) == -1)
		return STORE_ERR;
	if (found != 0) {
		cause_set(cause, "no such token");
		return STORE_NOTFOUND;
	}
	if (old.rotated_to != 0) {
		cause_set(cause, "rotated already");
		return STORE_EXISTS;
	}
	/* What the successor inherits, as it is now (a RENAME may have won). */
	next->uid = old.uid;
	next->expires = old.expires;
	memcpy(next->user, old.user, sizeof(next->user));
	memcpy(next->name, old.name, sizeof(next->name));
	next->nscopes = old.nscopes;
	memcpy(next->scopes, old.scopes, sizeof(next->scopes));
	if (!store_room(st)) {
		cause_set(cause, "database full (the rest is kept free for "
		    "deletes; raise map_size)");
		return STORE_FULL;
	}
	if ((ret = trim_chain(st, txn, &old, gone, cause)) != STORE_OK)
		return ret;
	old.rotated_to = next->id;
	old.overlap_until = until;
	if ((ret = update_in(st, txn, &old, cause)) != STORE_OK)
		return ret;
	next->rotated_from = id;
	next->rotated_to = 0;
	if ((len = store_encode(next, buf)) == 0) {
		cause_set(cause, "invalid token record");
		return STORE_ERR;
	}
	return insert_in(st, txn, next, buf, len, cause);
}

/* A step of a walk that deletes what it passes. */
static int
delete_cb(struct store *st, MDB_txn *txn, struct token_record *r, int depth,
    void *arg, char **cause)
{
	int	ret;

	(void)depth;
	(void)arg;
	ret = store_del_one(st, txn, r->id, NULL, cause);
	if (ret != STORE_OK && ret != STORE_NOTFOUND)
		return ret;
	free(*cause);
	*cause = NULL;
	return 0;
}

/*
 * REVOKE: the token, and the tokens it was rotated from (one may be in
 * its overlap still): a user deleting "the token" means them all.
 */
static int
revoke_in(struct store *st, MDB_txn *txn, uint64_t id,
    struct token_record *rec, char **cause)
{
	int	ret;

	if ((ret = del_in(st, txn, id, rec, cause)) != STORE_OK)
		return ret;
	return walk_back(st, txn, rec, delete_cb, NULL, cause);
}

/*
 * A ROTATE whose answer could not be given (the client left): the new
 * token was never shown, so the old one must go on working.
 */
static int
unrotate_in(struct store *st, MDB_txn *txn, uint64_t id, uint64_t next,
    char **cause)
{
	struct token_record	old;
	int			ret, found;

	if ((found = store_fetch(st, txn, id, &old, cause)) == -1)
		return STORE_ERR;
	if (found != 0 || old.rotated_to != next) {
		cause_set(cause, "not rotated to that token any more");
		return STORE_NOTFOUND;
	}
	ret = store_del_one(st, txn, next, NULL, cause);
	if (ret != STORE_OK && ret != STORE_NOTFOUND)
		return ret;
	free(*cause);
	*cause = NULL;
	old.rotated_to = 0;
	old.overlap_until = 0;
	return update_in(st, txn, &old, cause);
}

/*
 * Reuse of a rotated token: the whole chain goes, the tokens before it and
 * every one after it up to the live one, whoever holds that.
 */
static int
del_chain_in(struct store *st, MDB_txn *txn, uint64_t id,
    struct token_record *rec, char **cause)
{
	struct token_record	cur;
	uint64_t		next;
	int			ret, found, hops;

	if ((ret = del_in(st, txn, id, rec, cause)) != STORE_OK)
		return ret;
	if ((ret = walk_back(st, txn, rec, delete_cb, NULL, cause)) != STORE_OK)
		return ret;
	next = rec->rotated_to;
	for (hops = 0; next != 0 && hops <= STORE_ROTATE_KEEP + 1; hops++) {
		if ((found = store_fetch(st, txn, next, &cur, cause)) == -1)
			return STORE_ERR;
		if (found != 0)
			break;
		ret = store_del_one(st, txn, next, NULL, cause);
		if (ret != STORE_OK && ret != STORE_NOTFOUND)
			return ret;
		free(*cause);
		*cause = NULL;
		next = cur.rotated_to;
	}
	return STORE_OK;
}

/* A record as the database has it, whatever the copy held before. */
static int
mirror_put(struct store *st, MDB_txn *txn, const struct token_record *rec,
    char **cause)
{
	uint8_t	buf[STORE_REC_MAX];
	size_t	len;
	int	ret;

	if ((len = store_encode(rec, buf)) == 0) {
		cause_set(cause, "invalid token record");
		return STORE_ERR;
	}
	ret = store_del_one(st, txn, rec->id, NULL, cause);
	if (ret != STORE_OK && ret != STORE_NOTFOUND)
		return ret;
	return insert_in(st, txn, rec, buf, len, cause);
}

/*
 * Fleet mode: the database committed op; make the copy say the same.
 * No limit, no name rule, and what is missing already is no error.
 */
static int
mirror_in(struct store *st, MDB_txn *txn, struct store_op *op)
{
	size_t		i;
	int		ret = STORE_OK;

	op->changed = 1;
	switch (op->type) {
	case STORE_OP_PUT:
	case STORE_OP_RENAME:
		return mirror_put(st, txn, &op->rec, &op->cause);
	case STORE_OP_DEL:
		/* The database deleted the chain before it: so does the copy. */
		ret = revoke_in(st, txn, op->id, &op->rec, &op->cause);
		return ret == STORE_NOTFOUND ? STORE_OK : ret;
	case STORE_OP_DEL_USER:
		/* The database's count is the answer, not the copy's. */
		ret = del_user_in(st, txn, op->uid, &op->count, &op->cause);
		op->count = op->db_count;
		return ret;
	case STORE_OP_MIRROR:
		for (i = 0; i < op->n && ret == STORE_OK; i++) {
			ret = store_del_one(st, txn, op->ids[i], NULL,
			    &op->cause);
			if (ret == STORE_NOTFOUND)
				ret = STORE_OK;
		}
		for (i = 0; i < op->nrecs && ret == STORE_OK; i++)
			ret = mirror_put(st, txn, &op->recs[i], &op->cause);
		return ret;
	default:
		cause_set(&op->cause, "not a change the database makes");
		return STORE_ERR;
	}
}

/* Run op inside txn: STORE_OK, or an error with op->cause set. */
static int
op_run(struct store *st, MDB_txn *txn, struct store_op *op)
{
	if (op->mirror || op->type == STORE_OP_MIRROR)
		return mirror_in(st, txn, op);
	op->count = 0;
	switch (op->type) {
	case STORE_OP_PUT:
		op->changed = 1;
		return put_in(st, txn, &op->rec, op->max_per_user, op->now,
		    &op->cause);
	case STORE_OP_DEL:
		op->changed = 1;
		return revoke_in(st, txn, op->id, &op->rec, &op->cause);
	case STORE_OP_DEL_USER:
		op->changed = 1;
		return del_user_in(st, txn, op->uid, &op->count, &op->cause);
	case STORE_OP_PURGE:
		return purge_in(st, txn, op->now, &op->count, &op->changed,
		    &op->cause);
	case STORE_OP_LAST_USED:
		return last_used_in(st, txn, op->ids, op->times, op->n,
		    &op->changed, &op->cause);
	case STORE_OP_ROTATE:
		op->changed = 1;
		return rotate_in(st, txn, op->id, &op->rec, op->until,
		    &op->gone, &op->cause);
	case STORE_OP_UNROTATE:
		op->changed = 1;
		return unrotate_in(st, txn, op->id, op->rec.id, &op->cause);
	case STORE_OP_DEL_CHAIN:
		op->changed = 1;
		return del_chain_in(st, txn, op->id, &op->rec, &op->cause);
	case STORE_OP_RENAME: {
		char	name[sizeof(op->rec.name)];

		op->changed = 1;
		memcpy(name, op->rec.name, sizeof(name));
		return rename_in(st, txn, op->id, name, op->now, &op->rec,
		    &op->cause);
	}
	case STORE_OP_MIRROR:		/* mirror_in() above */
		break;
	}
	cause_set(&op->cause, "unknown store operation");
	return STORE_ERR;
}

/*
 * One op in a transaction of its own (the synchronous calls below, and
 * store_apply's second try).  Touches nothing the reading thread uses
 * but the atomic counter.
 */
static int
op_run_alone(struct store *st, struct store_op *op)
{
	MDB_txn	*txn;
	int	 rc, ret;

	op->changed = 0;
	if ((ret = store_begin(st->env, &txn, &op->cause)) != STORE_OK)
		return op->result = ret;
	ret = op_run(st, txn, op);
	if (ret != STORE_OK || !op->changed)
		mdb_txn_abort(txn);
	else if ((rc = mdb_txn_commit(txn)) != 0) {
		ret = store_error(rc, "mdb_txn_commit", &op->cause);
		op->count = 0;
	} else
		__atomic_add_fetch(&st->write_txns, 1, __ATOMIC_RELAXED);
	return op->result = ret;
}

/* The synchronous calls pass their cause on: the caller frees it. */
static int
op_sync(struct store *st, struct store_op *op, char **cause)
{
	int	ret = op_run_alone(st, op);

	if (ret == STORE_OK && op->changed)
		store_written(st);

	if (ret != STORE_OK && cause != NULL) {
		free(*cause);
		*cause = op->cause;
	} else
		free(op->cause);
	op->cause = NULL;
	return ret;
}

int
store_put_token(struct store *st, const struct token_record *rec,
    unsigned max_per_user, int64_t now, char **cause)
{
	struct store_op	op;
	int		ret;

	memset(&op, 0, sizeof op);
	op.type = STORE_OP_PUT;
	op.rec = *rec;
	op.max_per_user = max_per_user;
	op.now = now;
	ret = op_sync(st, &op, cause);
	explicit_bzero(&op.rec, sizeof op.rec);
	return ret;
}

int
store_del_token(struct store *st, uint64_t id, struct token_record *rec,
    char **cause)
{
	struct store_op	op;
	int		ret;

	memset(&op, 0, sizeof op);
	op.type = STORE_OP_DEL;
	op.id = id;
	if ((ret = op_sync(st, &op, cause)) == STORE_OK && rec != NULL)
		*rec = op.rec;
	return ret;
}

int
store_del_user(struct store *st, uint32_t uid, unsigned *count,
    char **cause)
{
	struct store_op	op;
	int		ret;

	memset(&op, 0, sizeof op);
	op.type = STORE_OP_DEL_USER;
	op.uid = uid;
	ret = op_sync(st, &op, cause);
	*count = op.count;
	return ret;
}

int
store_purge_expired(struct store *st, int64_t now, unsigned *count,
    char **cause)
{
	struct store_op	op;
	int		ret;

	memset(&op, 0, sizeof op);
	op.type = STORE_OP_PURGE;
	op.now = now;
	ret = op_sync(st, &op, cause);
	*count = op.count;
	return ret;
}

int
store_set_last_used(struct store *st, const uint64_t *ids,
    const int64_t *times, size_t n, char **cause)
{
	struct store_op	op;

	if (n == 0)
		return STORE_OK;
	memset(&op, 0, sizeof op);
	op.type = STORE_OP_LAST_USED;
	op.ids = ids;
	op.times = times;
	op.n = n;
	return op_sync(st, &op, cause);
}

/*
 * The writer thread's batch: one transaction, so one sync for all, with
 * each op in a nested transaction of its own so that one op's failure
 * (a full map, a name taken) undoes that op alone.  When the outer
 * commit fails, every op that had succeeded fails with its cause.
 */
void
store_apply(struct store *st, struct store_op **ops, size_t n)
{
	MDB_txn	*txn, *child;
	size_t	 i;
	int	 rc, ret, changed = 0;

	if ((ret = store_begin(st->env, &txn, NULL)) != STORE_OK) {
		for (i = 0; i < n; i++) {
			ops[i]->result = ret;
			cause_set(&ops[i]->cause, "cannot begin a write "
			    "transaction");
		}
		return;
	}
	for (i = 0; i < n; i++) {
		ops[i]->changed = 0;
		if ((rc = mdb_txn_begin(st->env, txn, 0, &child)) != 0) {
			ops[i]->result = store_error(rc, "mdb_txn_begin",
			    &ops[i]->cause);
			continue;
		}
		ret = op_run(st, child, ops[i]);
		if (ret != STORE_OK || !ops[i]->changed)
			mdb_txn_abort(child);
		else if ((rc = mdb_txn_commit(child)) != 0) {
			ret = store_error(rc, "mdb_txn_commit", &ops[i]->cause);
			ops[i]->count = 0;
		} else
			changed = 1;
		ops[i]->result = ret;
	}
	if (!changed) {
		mdb_txn_abort(txn);
		return;
	}
	if ((rc = mdb_txn_commit(txn)) == 0) {
		__atomic_add_fetch(&st->write_txns, 1, __ATOMIC_RELAXED);
		return;
	}
	/*
	 * Nothing was written.  The ops checked their room against the last
	 * commit, not against each other's pages, so a full map may be the
	 * batch's own doing: each op again, alone and in order, so that a
	 * delete still gets the room kept for it and one op's failure is its
	 * own.
	 */
	for (i = 0; i < n; i++) {
		free(ops[i]->cause);
		ops[i]->cause = NULL;
		op_run_alone(st, ops[i]);
	}
}
