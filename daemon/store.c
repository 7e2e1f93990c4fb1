/* SPDX-License-Identifier: ISC */
/*
 * The token store in LMDB; store.h lists the three databases.
 *
 * Record value, version 1 (integers big-endian, strings without NUL):
 *   u8 version (1) | u64 id | u8 kind | u32 uid | i64 created |
 *   i64 expires | i64 last_used | u8 hash[32] |
 *   u16 length, user | u8 length, name | u8 nscopes |
 *   nscopes * (u8 length, scope)
 * A value that does not decode exactly (version, lengths, embedded NUL,
 * id different from its key, trailing bytes) is skipped by scans and is
 * an error for store_get_token.
 *
 * Every function with a cause argument sets *cause (malloc'ed) whenever
 * it returns something other than STORE_OK.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storeimpl.h"
#include "util.h"

/* Turn an LMDB error into STORE_FULL or STORE_ERR and set *cause. */
int
store_error(int rc, const char *what, char **cause)
{
	if (rc == MDB_MAP_FULL) {
		cause_set(cause, "database full");
		return STORE_FULL;
	}
	cause_set(cause, "%s: %s", what, mdb_strerror(rc));
	return STORE_ERR;
}

/* Serialize rec into buf[STORE_REC_MAX]; 0 if rec cannot be stored. */
size_t
store_encode(const struct token_record *rec, uint8_t *buf)
{
	size_t		ulen, nlen, slen, off;
	unsigned	i;

	ulen = strnlen(rec->user, sizeof rec->user);
	nlen = strnlen(rec->name, sizeof rec->name);
	if (ulen > TOKEND_USER_MAX || nlen > TOKEND_NAME_MAX)
		return 0;
	if (rec->nscopes > TOKEND_SCOPES_MAX || rec->expires < 0)
		return 0;

	buf[0] = STORE_REC_VERSION;
	store_put64(buf + 1, rec->id);
	buf[9] = rec->kind;
	store_put32(buf + 10, rec->uid);
	store_put64(buf + 14, (uint64_t)rec->created);
	store_put64(buf + 22, (uint64_t)rec->expires);
	store_put64(buf + 30, (uint64_t)rec->last_used);
	memcpy(buf + 38, rec->hash, sizeof rec->hash);
	off = STORE_REC_FIXED;

	store_put16(buf + off, ulen);
	memcpy(buf + off + 2, rec->user, ulen);
	off += 2 + ulen;
	buf[off++] = nlen;
	memcpy(buf + off, rec->name, nlen);
	off += nlen;
	buf[off++] = rec->nscopes;
	for (i = 0; i < rec->nscopes; i++) {
		slen = strnlen(rec->scopes[i], sizeof rec->scopes[i]);
		if (slen > TOKEND_SCOPE_MAX)
			return 0;
		buf[off++] = slen;
		memcpy(buf + off, rec->scopes[i], slen);
		off += slen;
	}
	/* Records of before rotation existed have no trailer, and need none. */
	if (rec->rotated_to != 0 || rec->rotated_from != 0) {
		buf[off++] = 'R';
		store_put64(buf + off, rec->rotated_to);
		store_put64(buf + off + 8, (uint64_t)rec->overlap_until);
		store_put64(buf + off + 16, rec->rotated_from);
		off += 24;
	}
	return off;
}

/* Copy a string of n bytes at p[*off] into dst[max + 1]. */
static int
store_decode_str(const uint8_t *p, size_t len, size_t *off, size_t n,
    char *dst, size_t max)
{
	if (n > max || len - *off < n)
		return -1;
	if (memchr(p + *off, '\0', n) != NULL)
		return -1;
	memcpy(dst, p + *off, n);
	dst[n] = '\0';
	*off += n;
	return 0;
}

size_t
store_record_encode(const struct token_record *rec, uint8_t *buf)
{
	return store_encode(rec, buf);
}

int
store_record_decode(uint64_t id, const uint8_t *buf, size_t len,
    struct token_record *rec)
{
	uint8_t	k[STORE_ID_KEY];
	MDB_val	key = { sizeof(k), k }, val = { len, (void *)(uintptr_t)buf };

	store_key_id(k, id);
	return store_decode(&key, &val, rec);
}

int
store_decode(const MDB_val *key, const MDB_val *val, struct token_record *rec)
{
	const uint8_t	*p = val->mv_data;
	size_t		 len = val->mv_size, off, n;
	unsigned	 i;

	memset(rec, 0, sizeof *rec);
	if (len < STORE_REC_FIXED + 2 + 1 + 1 || p[0] != STORE_REC_VERSION)
		return -1;
	rec->id = store_get64(p + 1);
	if (key->mv_size != STORE_ID_KEY ||
	    store_get64(key->mv_data) != rec->id)
		return -1;
	rec->kind = p[9];
	rec->uid = store_get32(p + 10);
	rec->created = (int64_t)store_get64(p + 14);
	rec->expires = (int64_t)store_get64(p + 22);
	rec->last_used = (int64_t)store_get64(p + 30);
	memcpy(rec->hash, p + 38, sizeof rec->hash);
	off = STORE_REC_FIXED;

	n = store_get16(p + off);
	off += 2;
	if (store_decode_str(p, len, &off, n, rec->user, TOKEND_USER_MAX) != 0)
		return -1;
	if (len - off < 1)
		return -1;
	n = p[off++];
	if (store_decode_str(p, len, &off, n, rec->name, TOKEND_NAME_MAX) != 0)
		return -1;
	if (len - off < 1)
		return -1;
	rec->nscopes = p[off++];
	if (rec->nscopes > TOKEND_SCOPES_MAX)
		return -1;
	for (i = 0; i < rec->nscopes; i++) {
		if (len - off < 1)
			return -1;
		n = p[off++];
		if (store_decode_str(p, len, &off, n, rec->scopes[i],
		    TOKEND_SCOPE_MAX) != 0)
			return -1;
	}
	if (len - off == STORE_REC_ROTATION && p[off] == 'R') {
		rec->rotated_to = store_get64(p + off + 1);
		rec->overlap_until = (int64_t)store_get64(p + off + 9);
		rec->rotated_from = store_get64(p + off + 17);
		off += STORE_REC_ROTATION;
	}
	return off == len ? 0 : -1;
}

int
store_begin(MDB_env *env, MDB_txn **txn, char **cause)
{
	int	rc;

	if ((rc = mdb_txn_begin(env, NULL, 0, txn)) != 0) {
		*txn = NULL;
		return store_error(rc, "mdb_txn_begin", cause);
	}
	return STORE_OK;
}

/* Commit (synced); the txn is gone afterwards whatever happens. */
int
store_commit(struct store *st, MDB_txn *txn, char **cause)
{
	int	rc;

	if ((rc = mdb_txn_commit(txn)) != 0)
		return store_error(rc, "mdb_txn_commit", cause);
	__atomic_add_fetch(&st->write_txns, 1, __ATOMIC_RELAXED);
	st->stale = 1;	/* a batch's snapshot must not hide this write */
	return STORE_OK;
}

/* Look up and decode id in txn: 0 found, 1 missing or undecodable, -1 error. */
int
store_fetch(struct store *st, MDB_txn *txn, uint64_t id,
    struct token_record *rec, char **cause)
{
	uint8_t	k[STORE_ID_KEY];
	MDB_val	key, val;
	int	rc;

	store_key_id(k, id);
	key.mv_size = sizeof k;
	key.mv_data = k;
	rc = mdb_get(txn, st->tokens, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0) {
		store_error(rc, "mdb_get", cause);
		return -1;
	}
	return store_decode(&key, &val, rec) == 0 ? 0 : 1;
}

int
store_open(struct store **stp, const char *dir, size_t map_size,
    char **cause)
{
	struct store	*st;
	MDB_txn		*txn = NULL;
	int		 rc, ret = STORE_ERR, dead;

	*stp = NULL;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		cause_set(cause, "%s: %s", dir, strerror(errno));
		return STORE_ERR;
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		cause_set(cause, "%s", strerror(errno));
		return STORE_ERR;
	}

	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		ret = store_error(rc, "mdb_env_create", cause);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, 3)) != 0) {
		ret = store_error(rc, "mdb_env_set_maxdbs", cause);
		goto fail;
	}
	if (map_size != 0 &&
	    (rc = mdb_env_set_mapsize(st->env, map_size)) != 0) {
		ret = store_error(rc, "mdb_env_set_mapsize", cause);
		goto fail;
	}
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0) {
		cause_set(cause, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* Free reader slots left by a killed process. */
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		ret = store_error(rc, "mdb_reader_check", cause);
		goto fail;
	}

	if ((ret = store_begin(st->env, &txn, cause)) != STORE_OK)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "tokens", MDB_CREATE, &st->tokens)) != 0 ||
	    (rc = mdb_dbi_open(txn, "byuser", MDB_CREATE, &st->byuser)) != 0 ||
	    (rc = mdb_dbi_open(txn, "byexpiry", MDB_CREATE,
	    &st->byexpiry)) != 0) {
		ret = store_error(rc, "mdb_dbi_open", cause);
		goto fail;
	}
	ret = store_commit(st, txn, cause);
	txn = NULL;
	if (ret != STORE_OK)
		goto fail;

	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn)) != 0) {
		st->rtxn = NULL;
		ret = store_error(rc, "mdb_txn_begin", cause);
		goto fail;
	}
	mdb_txn_reset(st->rtxn);

	*stp = st;
	return STORE_OK;

fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	return ret == STORE_OK ? STORE_ERR : ret;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->rtxn != NULL)
		mdb_txn_abort(st->rtxn);
	mdb_env_close(st->env);
	free(st);
}

/* The hot path: one reused read txn, no allocation. */
int
store_get_token(struct store *st, uint64_t id, struct token_record *rec)
{
	uint8_t	k[STORE_ID_KEY];
	MDB_val	key, val;
	int	rc, ret;

	if (st->batch && st->batch_open && st->stale) {
		mdb_txn_reset(st->rtxn);
		st->batch_open = 0;
	}
	if (!st->batch || !st->batch_open) {
		if (mdb_txn_renew(st->rtxn) != 0)
			return STORE_ERR;
		st->read_txns++;
		st->stale = 0;
		st->batch_open = st->batch > 0;
	}

	store_key_id(k, id);
	key.mv_size = sizeof k;
	key.mv_data = k;
	rc = mdb_get(st->rtxn, st->tokens, &key, &val);
	if (rc == MDB_NOTFOUND)
		ret = STORE_NOTFOUND;
	else if (rc != 0 || store_decode(&key, &val, rec) != 0)
		ret = STORE_ERR;
	else
		ret = STORE_OK;

	if (!st->batch_open)
		mdb_txn_reset(st->rtxn);
	return ret;
}

void
store_written(struct store *st)
{
	st->stale = 1;	/* a batch's snapshot must not hide this write */
}

void
store_batch_begin(struct store *st)
{
	st->batch++;		/* nests: only the outermost end resets */
}

void
store_batch_end(struct store *st)
{
	if (st->batch > 0 && --st->batch > 0)
		return;
	if (st->batch_open)
		mdb_txn_reset(st->rtxn);
	st->batch_open = 0;
}

int
store_list(struct store *st, int all, uint32_t uid, uint64_t from,
    int (*cb)(const struct token_record *, void *), void *arg)
{
	struct token_record	 rec;
	uint8_t			 ku[STORE_USER_KEY], kid[STORE_ID_KEY];
	MDB_txn			*txn;
	MDB_cursor		*cur = NULL;
	MDB_val			 key, val;
	MDB_cursor_op		 op;
	int			 rc, ret = STORE_ERR, found, stop;

	/* Its own txn, so cb may call store_get_token. */
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
		return STORE_ERR;
	st->read_txns++;
	if (mdb_cursor_open(txn, all ? st->tokens : st->byuser, &cur) != 0)
		goto out;

	store_key_user(ku, uid, from);
	store_key_id(kid, from);
	key.mv_size = all ? sizeof kid : sizeof ku;
	key.mv_data = all ? kid : ku;
	op = MDB_SET_RANGE;
	for (; (rc = mdb_cursor_get(cur, &key, &val, op)) == 0; op = MDB_NEXT) {
		if (all)
			found = (store_decode(&key, &val, &rec) == 0);
		else {
			if (key.mv_size < 4 || memcmp(key.mv_data, ku, 4) != 0)
				break;
			if (key.mv_size != STORE_USER_KEY)
				continue;
			found = store_fetch(st, txn, store_get64(
			    (const uint8_t *)key.mv_data + 4), &rec, NULL);
			if (found == -1)
				goto out;
			found = (found == 0 && rec.uid == uid);
		}
		if (!found)
			continue;
		if ((stop = cb(&rec, arg)) < 0)
			goto out;
		if (stop > 0)
			break;
	}
	if (rc == 0 || rc == MDB_NOTFOUND)
		ret = STORE_OK;

out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return ret;
}

void
store_get_stats(struct store *st, struct store_stats *stats)
{
	MDB_envinfo	info;
	MDB_stat	est, dst;

	memset(stats, 0, sizeof *stats);
	if (mdb_env_info(st->env, &info) == 0 &&
	    mdb_env_stat(st->env, &est) == 0) {
		stats->map_size = info.me_mapsize;
		stats->map_used = (uint64_t)(info.me_last_pgno + 1) *
		    est.ms_psize;
	}
	if (mdb_txn_renew(st->rtxn) == 0) {
		st->read_txns++;
		if (mdb_stat(st->rtxn, st->tokens, &dst) == 0)
			stats->tokens = dst.ms_entries;
		mdb_txn_reset(st->rtxn);
	}
	stats->read_txns = st->read_txns;
	stats->write_txns = __atomic_load_n(&st->write_txns, __ATOMIC_RELAXED);
}

int
store_set_sync(struct store *st, int sync, char **cause)
{
	int	rc;

	if ((rc = mdb_env_set_flags(st->env, MDB_NOSYNC, sync ? 0 : 1)) != 0)
		return store_error(rc, "mdb_env_set_flags", cause);
	if (sync && (rc = mdb_env_sync(st->env, 1)) != 0)
		return store_error(rc, "mdb_env_sync", cause);
	return STORE_OK;
}
