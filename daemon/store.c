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

#include "store.h"
#include "util.h"

#define STORE_REC_VERSION	1
#define STORE_REC_FIXED		(1 + 8 + 1 + 4 + 8 + 8 + 8 + 32)
#define STORE_REC_MAX		(STORE_REC_FIXED + 2 + TOKEND_USER_MAX + \
				 1 + TOKEND_NAME_MAX + 1 + \
				 TOKEND_SCOPES_MAX * (1 + TOKEND_SCOPE_MAX))
#define STORE_ID_KEY		8
#define STORE_USER_KEY		12
#define STORE_EXPIRY_KEY	16
#define STORE_PURGE_MAX		10000	/* records per store_purge_expired */
#define STORE_STALE_MAX		16	/* expired same-name records per put */

struct store {
	MDB_env		*env;
	MDB_dbi		 tokens;
	MDB_dbi		 byuser;
	MDB_dbi		 byexpiry;
	MDB_txn		*rtxn;		/* read txn, kept reset between reads */
	int		 batch;		/* store_batch_begin() depth */
	int		 batch_open;	/* rtxn renewed for the batch */
	int		 stale;		/* a write committed since rtxn was renewed */
	uint64_t	 read_txns;
	uint64_t	 write_txns;
};

/* Turn an LMDB error into STORE_FULL or STORE_ERR and set *cause. */
static int
store_error(int rc, const char *what, char **cause)
{
	if (rc == MDB_MAP_FULL) {
		cause_set(cause, "database full");
		return (STORE_FULL);
	}
	cause_set(cause, "%s: %s", what, mdb_strerror(rc));
	return (STORE_ERR);
}

static void
store_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
store_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
store_put64(uint8_t *p, uint64_t v)
{
	store_put32(p, v >> 32);
	store_put32(p + 4, v);
}

static uint16_t
store_get16(const uint8_t *p)
{
	return ((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t
store_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static uint64_t
store_get64(const uint8_t *p)
{
	return ((uint64_t)store_get32(p) << 32 | store_get32(p + 4));
}

static void
store_key_id(uint8_t *k, uint64_t id)
{
	store_put64(k, id);
}

static void
store_key_user(uint8_t *k, uint32_t uid, uint64_t id)
{
	store_put32(k, uid);
	store_put64(k + 4, id);
}

static void
store_key_expiry(uint8_t *k, int64_t expires, uint64_t id)
{
	store_put64(k, (uint64_t)expires);
	store_put64(k + 8, id);
}

/* Serialize rec into buf[STORE_REC_MAX]; 0 if rec cannot be stored. */
static size_t
store_encode(const struct token_record *rec, uint8_t *buf)
{
	size_t		ulen, nlen, slen, off;
	unsigned	i;

	ulen = strnlen(rec->user, sizeof rec->user);
	nlen = strnlen(rec->name, sizeof rec->name);
	if (ulen > TOKEND_USER_MAX || nlen > TOKEND_NAME_MAX)
		return (0);
	if (rec->nscopes > TOKEND_SCOPES_MAX || rec->expires < 0)
		return (0);

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
			return (0);
		buf[off++] = slen;
		memcpy(buf + off, rec->scopes[i], slen);
		off += slen;
	}
	return (off);
}

/* Copy a string of n bytes at p[*off] into dst[max + 1]. */
static int
store_decode_str(const uint8_t *p, size_t len, size_t *off, size_t n,
    char *dst, size_t max)
{
	if (n > max || len - *off < n)
		return (-1);
	if (memchr(p + *off, '\0', n) != NULL)
		return (-1);
	memcpy(dst, p + *off, n);
	dst[n] = '\0';
	*off += n;
	return (0);
}

static int
store_decode(const MDB_val *key, const MDB_val *val, struct token_record *rec)
{
	const uint8_t	*p = val->mv_data;
	size_t		 len = val->mv_size, off, n;
	unsigned	 i;

	memset(rec, 0, sizeof *rec);
	if (len < STORE_REC_FIXED + 2 + 1 + 1 || p[0] != STORE_REC_VERSION)
		return (-1);
	rec->id = store_get64(p + 1);
	if (key->mv_size != STORE_ID_KEY ||
	    store_get64(key->mv_data) != rec->id)
		return (-1);
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
		return (-1);
	if (len - off < 1)
		return (-1);
	n = p[off++];
	if (store_decode_str(p, len, &off, n, rec->name, TOKEND_NAME_MAX) != 0)
		return (-1);
	if (len - off < 1)
		return (-1);
	rec->nscopes = p[off++];
	if (rec->nscopes > TOKEND_SCOPES_MAX)
		return (-1);
	for (i = 0; i < rec->nscopes; i++) {
		if (len - off < 1)
			return (-1);
		n = p[off++];
		if (store_decode_str(p, len, &off, n, rec->scopes[i],
		    TOKEND_SCOPE_MAX) != 0)
			return (-1);
	}
	return (off == len ? 0 : -1);
}

static int
store_begin(MDB_env *env, MDB_txn **txn, char **cause)
{
	int	rc;

	if ((rc = mdb_txn_begin(env, NULL, 0, txn)) != 0) {
		*txn = NULL;
		return (store_error(rc, "mdb_txn_begin", cause));
	}
	return (STORE_OK);
}

/* Commit (synced); the txn is gone afterwards whatever happens. */
static int
store_commit(struct store *st, MDB_txn *txn, char **cause)
{
	int	rc;

	if ((rc = mdb_txn_commit(txn)) != 0)
		return (store_error(rc, "mdb_txn_commit", cause));
	st->write_txns++;
	st->stale = 1;	/* a batch's snapshot must not hide this write */
	return (STORE_OK);
}

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
		return (store_error(rc, "mdb_del", cause));
	return (STORE_OK);
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
		return (STORE_NOTFOUND);	/* no cause: callers decide */
	if (rc != 0)
		return (store_error(rc, "mdb_get", cause));
	decoded = (store_decode(&key, &val, &rec) == 0);

	if ((rc = mdb_del(txn, st->tokens, &key, NULL)) != 0)
		return (store_error(rc, "mdb_del", cause));
	if (decoded) {
		store_key_user(ku, rec.uid, id);
		ret = store_del_key(txn, st->byuser, ku, sizeof ku, cause);
		if (ret != STORE_OK)
			return (ret);
		store_key_expiry(ke, rec.expires, id);
		ret = store_del_key(txn, st->byexpiry, ke, sizeof ke, cause);
		if (ret != STORE_OK)
			return (ret);
	} else {
		memset(&rec, 0, sizeof rec);
		rec.id = id;
	}
	if (out != NULL)
		*out = rec;
	return (STORE_OK);
}

/* Look up and decode id in txn: 0 found, 1 missing or undecodable, -1 error. */
static int
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
		return (1);
	if (rc != 0) {
		store_error(rc, "mdb_get", cause);
		return (-1);
	}
	return (store_decode(&key, &val, rec) == 0 ? 0 : 1);
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
		return (STORE_ERR);
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		cause_set(cause, "%s", strerror(errno));
		return (STORE_ERR);
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
	return (STORE_OK);

fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	return (ret == STORE_OK ? STORE_ERR : ret);
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

/*
 * Whether txn may add a record and still leave the room deletes need:
 * LMDB copies pages on write, so a delete in a full map can fail too.
 * Free pages are counted from the freelist (FREE_DBI), so space freed by
 * deletes counts again.  Keeps max(64 pages, 1/64 of the map) free.
 */
static int
store_room(struct store *st, MDB_txn *txn)
{
	MDB_envinfo	 info;
	MDB_stat	 est;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	size_t		 total, used, freep = 0, reserve, id0;

	if (mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &est) != 0)
		return 1;
	total = info.me_mapsize / est.ms_psize;
	used = info.me_last_pgno + 1;
	if (mdb_cursor_open(txn, 0, &cur) == 0) {
		while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
			if (v.mv_size >= sizeof(id0)) {
				memcpy(&id0, v.mv_data, sizeof(id0));
				freep += id0;	/* an IDL starts with its length */
			}
		mdb_cursor_close(cur);
	}
	reserve = total / 64 > 64 ? total / 64 : 64;
	return used - (freep < used ? freep : used) + 16 + reserve <= total;
}

int
store_put_token(struct store *st, const struct token_record *rec,
    unsigned max_per_user, int64_t now, char **cause)
{
	struct token_record	 old;
	uint8_t			 buf[STORE_REC_MAX], k[STORE_ID_KEY];
	uint8_t			 ku[STORE_USER_KEY], ke[STORE_EXPIRY_KEY];
	uint64_t		 stale[STORE_STALE_MAX], id;
	MDB_txn			*txn = NULL;
	MDB_cursor		*cur = NULL;
	MDB_val			 key, val;
	size_t			 len, nstale = 0, i;
	unsigned		 live = 0;
	int			 rc, ret, found;

	if ((len = store_encode(rec, buf)) == 0) {
		cause_set(cause, "invalid token record");
		return (STORE_ERR);
	}
	if ((ret = store_begin(st->env, &txn, cause)) != STORE_OK)
		return (ret);
	if (!store_room(st, txn)) {
		cause_set(cause, "database full (the rest is kept free for "
		    "deletes; raise map_size)");
		mdb_txn_abort(txn);
		return (STORE_FULL);
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

	/* Count the uid's live tokens and look for the name among them. */
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
		if (old.expires > now) {
			live++;
			if (strcmp(old.name, rec->name) == 0) {
				cause_set(cause, "name exists: %s",
				    rec->name);
				ret = STORE_EXISTS;
				goto fail;
			}
		} else if (strcmp(old.name, rec->name) == 0 &&
		    nstale < STORE_STALE_MAX)
			stale[nstale++] = id;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		ret = store_error(rc, "mdb_cursor_get", cause);
		goto fail;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if (max_per_user != 0 && live >= max_per_user) {
		cause_set(cause, "uid %u has %u tokens", rec->uid, live);
		ret = STORE_LIMIT;
		goto fail;
	}

	for (i = 0; i < nstale; i++) {
		ret = store_del_one(st, txn, stale[i], NULL, cause);
		if (ret != STORE_OK && ret != STORE_NOTFOUND)
			goto fail;
	}

	key.mv_size = sizeof k;
	key.mv_data = k;
	val.mv_size = len;
	val.mv_data = buf;
	if ((rc = mdb_put(txn, st->tokens, &key, &val, MDB_NOOVERWRITE)) != 0)
		goto put_fail;
	store_key_user(ku, rec->uid, rec->id);
	key.mv_size = sizeof ku;
	key.mv_data = ku;
	val.mv_size = 0;
	val.mv_data = NULL;
	if ((rc = mdb_put(txn, st->byuser, &key, &val, 0)) != 0)
		goto put_fail;
	store_key_expiry(ke, rec->expires, rec->id);
	key.mv_size = sizeof ke;
	key.mv_data = ke;
	if ((rc = mdb_put(txn, st->byexpiry, &key, &val, 0)) != 0)
		goto put_fail;

	return (store_commit(st, txn, cause));

put_fail:
	ret = store_error(rc, "mdb_put", cause);
fail:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return (ret);
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
			return (STORE_ERR);
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
	return (ret);
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
store_del_token(struct store *st, uint64_t id, struct token_record *rec,
    char **cause)
{
	MDB_txn	*txn;
	int	 ret;

	if ((ret = store_begin(st->env, &txn, cause)) != STORE_OK)
		return (ret);
	if ((ret = store_del_one(st, txn, id, rec, cause)) != STORE_OK) {
		if (ret == STORE_NOTFOUND)
			cause_set(cause, "no such token");
		mdb_txn_abort(txn);
		return (ret);
	}
	return (store_commit(st, txn, cause));
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
		return (STORE_OK);
	}
	if (rc != 0)
		return (store_error(rc, "mdb_cursor_get", cause));
	if (plen != 0 && (key.mv_size < plen ||
	    memcmp(key.mv_data, prefix, plen) != 0)) {
		*done = 1;
		return (STORE_OK);
	}
	if (key.mv_size != klen) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			return (store_error(rc, "mdb_cursor_del", cause));
		return (STORE_OK);
	}
	memcpy(kcur, key.mv_data, klen);
	if (plen == 0 && (int64_t)store_get64(kcur) > now) {
		*done = 1;
		return (STORE_OK);
	}

	ret = store_del_one(st, txn, store_get64(kcur + klen - 8), NULL, cause);
	if (ret == STORE_OK)
		*deleted = 1;
	else if (ret != STORE_NOTFOUND)
		return (ret);
	return (store_del_key(txn, mdb_cursor_dbi(cur), kcur, klen, cause));
}

int
store_del_user(struct store *st, uint32_t uid, unsigned *count,
    char **cause)
{
	MDB_txn		*txn;
	MDB_cursor	*cur = NULL;
	uint8_t		 prefix[4];
	int		 rc, ret, done, deleted;

	*count = 0;
	if ((ret = store_begin(st->env, &txn, cause)) != STORE_OK)
		return (ret);
	if ((rc = mdb_cursor_open(txn, st->byuser, &cur)) != 0) {
		ret = store_error(rc, "mdb_cursor_open", cause);
		goto fail;
	}
	store_put32(prefix, uid);
	for (;;) {
		ret = store_del_first(st, txn, cur, prefix, sizeof prefix,
		    STORE_USER_KEY, 0, &done, &deleted, cause);
		if (ret != STORE_OK)
			goto fail;
		if (done)
			break;
		if (deleted)
			(*count)++;
	}
	mdb_cursor_close(cur);
	return (store_commit(st, txn, cause));

fail:
	*count = 0;
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return (ret);
}

int
store_purge_expired(struct store *st, int64_t now, unsigned *count,
    char **cause)
{
	MDB_txn		*txn;
	MDB_cursor	*cur = NULL;
	unsigned	 n;
	int		 rc, ret, done = 0, deleted, dirty = 0;

	*count = 0;
	if ((ret = store_begin(st->env, &txn, cause)) != STORE_OK)
		return (ret);
	if ((rc = mdb_cursor_open(txn, st->byexpiry, &cur)) != 0) {
		ret = store_error(rc, "mdb_cursor_open", cause);
		goto fail;
	}
	for (n = 0; n < STORE_PURGE_MAX && !done; n++) {
		ret = store_del_first(st, txn, cur, NULL, 0, STORE_EXPIRY_KEY,
		    now, &done, &deleted, cause);
		if (ret != STORE_OK)
			goto fail;
		if (!done)
			dirty = 1;
		if (deleted)
			(*count)++;
	}
	mdb_cursor_close(cur);
	if (!dirty) {
		mdb_txn_abort(txn);
		return (STORE_OK);
	}
	if ((ret = store_commit(st, txn, cause)) != STORE_OK)
		*count = 0;
	return (ret);

fail:
	*count = 0;
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return (ret);
}

int
store_list(struct store *st, int all, uint32_t uid,
    int (*cb)(const struct token_record *, void *), void *arg)
{
	struct token_record	 rec;
	uint8_t			 ku[STORE_USER_KEY];
	MDB_txn			*txn;
	MDB_cursor		*cur = NULL;
	MDB_val			 key, val;
	MDB_cursor_op		 op;
	int			 rc, ret = STORE_ERR, found;

	/* Its own txn, so cb may call store_get_token. */
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
		return (STORE_ERR);
	st->read_txns++;
	if (mdb_cursor_open(txn, all ? st->tokens : st->byuser, &cur) != 0)
		goto out;

	store_key_user(ku, uid, 0);
	key.mv_size = sizeof ku;
	key.mv_data = ku;
	op = all ? MDB_FIRST : MDB_SET_RANGE;
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
		if (found && cb(&rec, arg) != 0)
			goto out;
	}
	if (rc == 0 || rc == MDB_NOTFOUND)
		ret = STORE_OK;

out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return (ret);
}

/* last_used only moves forward, so a late batch cannot undo a newer one. */
int
store_set_last_used(struct store *st, const uint64_t *ids,
    const int64_t *times, size_t n, char **cause)
{
	struct token_record	 rec;
	uint8_t			 buf[STORE_REC_MAX], k[STORE_ID_KEY];
	MDB_txn			*txn;
	MDB_val			 key, val;
	size_t			 i, len;
	int			 rc, ret, dirty = 0;

	if (n == 0)
		return (STORE_OK);
	if ((ret = store_begin(st->env, &txn, cause)) != STORE_OK)
		return (ret);
	for (i = 0; i < n; i++) {
		if ((rc = store_fetch(st, txn, ids[i], &rec, cause)) == -1) {
			ret = STORE_ERR;
			goto fail;
		}
		if (rc != 0 || times[i] <= rec.last_used)
			continue;
		rec.last_used = times[i];
		if ((len = store_encode(&rec, buf)) == 0)
			continue;
		store_key_id(k, ids[i]);
		key.mv_size = sizeof k;
		key.mv_data = k;
		val.mv_size = len;
		val.mv_data = buf;
		if ((rc = mdb_put(txn, st->tokens, &key, &val, 0)) != 0) {
			ret = store_error(rc, "mdb_put", cause);
			goto fail;
		}
		dirty = 1;
	}
	if (!dirty) {
		mdb_txn_abort(txn);
		return (STORE_OK);
	}
	return (store_commit(st, txn, cause));

fail:
	mdb_txn_abort(txn);
	return (ret);
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
	stats->write_txns = st->write_txns;
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
