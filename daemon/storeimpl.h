/* SPDX-License-Identifier: ISC */
/*
 * What store.c (opening, the record codec, reads) and store_write.c
 * (writes, and the batches of the writer thread) share; not for use
 * outside the store.
 */
#ifndef TOKEND_STOREIMPL_H
#define TOKEND_STOREIMPL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_REC_VERSION	1
#define STORE_REC_FIXED		(1 + 8 + 1 + 4 + 8 + 8 + 8 + 32)
/*
 * Rotated tokens kept, refused, behind each live token so that a replay
 * of any of them is caught (ROTATE): a chain holds at most KEEP + 1.
 */
#define STORE_ROTATE_KEEP	3
/* The rotating token is one of them; trim_chain keeps at least one more. */
_Static_assert(STORE_ROTATE_KEEP >= 2, "STORE_ROTATE_KEEP below 2");
/* After the scopes, only for a record in a rotation: 'R' and 3 x 8 bytes. */
#define STORE_REC_ROTATION	(1 + 8 + 8 + 8)
#define STORE_REC_MAX		(STORE_REC_FIXED + 2 + TOKEND_USER_MAX + \
				 1 + TOKEND_NAME_MAX + 1 + \
				 TOKEND_SCOPES_MAX * (1 + TOKEND_SCOPE_MAX) + \
				 STORE_REC_ROTATION)
_Static_assert(STORE_REC_MAX == STORE_RECORD_MAX, "STORE_RECORD_MAX");
#define STORE_ID_KEY		8
#define STORE_USER_KEY		12
#define STORE_EXPIRY_KEY	16
#define STORE_PURGE_MAX		STORE_PURGE_BATCH
#define STORE_STALE_MAX		64	/* expired records of the uid deleted per pass of a put */

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

static inline void
store_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void
store_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void
store_put64(uint8_t *p, uint64_t v)
{
	store_put32(p, v >> 32);
	store_put32(p + 4, v);
}

static inline uint16_t
store_get16(const uint8_t *p)
{
	return ((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
store_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static inline uint64_t
store_get64(const uint8_t *p)
{
	return ((uint64_t)store_get32(p) << 32 | store_get32(p + 4));
}

static inline void
store_key_id(uint8_t *k, uint64_t id)
{
	store_put64(k, id);
}

static inline void
store_key_user(uint8_t *k, uint32_t uid, uint64_t id)
{
	store_put32(k, uid);
	store_put64(k + 4, id);
}

static inline void
store_key_expiry(uint8_t *k, int64_t expires, uint64_t id)
{
	store_put64(k, (uint64_t)expires);
	store_put64(k + 8, id);
}


/* Turn an LMDB error into STORE_FULL or STORE_ERR and set *cause. */
int	 store_error(int rc, const char *what, char **cause);
/* Serialize rec into buf[STORE_REC_MAX]; 0 if rec cannot be stored. */
size_t	 store_encode(const struct token_record *rec, uint8_t *buf);
int	 store_decode(const MDB_val *key, const MDB_val *val,
	     struct token_record *rec);
int	 store_begin(MDB_env *env, MDB_txn **txn, char **cause);
/* Commit (synced); the txn is gone afterwards whatever happens. */
int	 store_commit(struct store *st, MDB_txn *txn, char **cause);
/* Look up and decode id in txn: 0 found, 1 missing or undecodable, -1 error. */
int	 store_fetch(struct store *st, MDB_txn *txn, uint64_t id,
	     struct token_record *rec, char **cause);

#endif /* TOKEND_STOREIMPL_H */
