/* SPDX-License-Identifier: ISC */
/*
 * The token store: refresh-token records in LMDB.
 *
 * Databases in one environment (the --db folder):
 *   tokens    id (8 bytes, big-endian)               -> record (see store.c)
 *   byuser    uid (4 bytes BE) + id (8 bytes BE)      -> empty
 *   byexpiry  expires (8 bytes BE) + id (8 bytes BE)  -> empty
 *
 * Only the keyed hash of a token's secret is stored.  The synchronous
 * writes commit a synced transaction before they return; the daemon
 * instead hands its writes to a thread of their own (writer.h), which
 * runs whatever queued up in one synced transaction: store_apply().
 * Reads reuse one reset read transaction so the hot path allocates
 * nothing.
 */
#ifndef TOKEND_STORE_H
#define TOKEND_STORE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct store;

/* Expired records one purge deletes at most: a full batch means run again. */
#define STORE_PURGE_BATCH	10000

struct token_record {
	uint64_t	id;
	uint8_t		kind;			/* TOKEN_REFRESH */
	uint32_t	uid;
	int64_t		created;
	int64_t		expires;
	int64_t		last_used;		/* 0: never */
	uint8_t		hash[32];		/* keyed BLAKE2b of the secret */
	char		user[TOKEND_USER_MAX + 1];
	char		name[TOKEND_NAME_MAX + 1];
	uint8_t		nscopes;
	char		scopes[TOKEND_SCOPES_MAX][TOKEND_SCOPE_MAX + 1];
	/*
	 * Rotation (ROTATE): a rotated token names its successor and is
	 * accepted until overlap_until; after that it is kept, unaccepted,
	 * until its expiry so that a replay of it can be told (reuse).  The
	 * successor names its predecessor.  0 when none.
	 */
	uint64_t	rotated_to;
	int64_t		overlap_until;
	uint64_t	rotated_from;
};

enum store_result {
	STORE_OK	= 0,
	STORE_ERR	= -1,	/* I/O or LMDB error; *cause says which */
	STORE_NOTFOUND	= -2,
	STORE_EXISTS	= -3,	/* same id, or same name for the same uid */
	STORE_LIMIT	= -4,	/* the uid already has max_per_user tokens */
	STORE_FULL	= -5,	/* LMDB map full */
};

struct store_stats {
	uint64_t	map_size;		/* bytes */
	uint64_t	map_used;		/* bytes in use (pages * page size) */
	uint64_t	tokens;			/* records in "tokens" */
	uint64_t	write_txns;		/* write transactions committed */
	uint64_t	read_txns;		/* read transactions begun/renewed */
};

enum store_op_type {
	STORE_OP_PUT,		/* store_put_token: rec, max_per_user, now */
	STORE_OP_DEL,		/* store_del_token: id; rec gets the record */
	STORE_OP_DEL_USER,	/* store_del_user: uid; count */
	STORE_OP_PURGE,		/* store_purge_expired: now; count */
	STORE_OP_LAST_USED,	/* store_set_last_used: ids, times, n */
	STORE_OP_RENAME,	/* id, rec.name (new), now; rec gets the record */
	STORE_OP_ROTATE,	/* id (old), rec (the successor), until */
	STORE_OP_DEL_CHAIN,	/* id and its successor; rec gets id's record */
	STORE_OP_UNROTATE,	/* undo ROTATE of id to rec.id (answer lost) */
	STORE_OP_MIRROR,	/* fleet: recs[0..nrecs) are so now, ids[0..n) gone */
};

/* One write, as the writer thread takes it. */
struct store_op {
	enum store_op_type	 type;
	struct token_record	 rec;
	unsigned		 max_per_user;
	int64_t			 now;
	int64_t			 until;		/* ROTATE: end of the overlap */
	uint64_t		 id;
	uint64_t		 gone;		/* ROTATE: the predecessor deleted, or 0 */
	uint32_t		 uid;
	const uint64_t		*ids;
	const int64_t		*times;
	size_t			 n;
	const struct token_record *recs;	/* MIRROR */
	size_t			 nrecs;
	/*
	 * Fleet mode: the database committed this op already; the host's
	 * copy follows it without checks of its own (no limit, no name
	 * rule, a missing record is no error).
	 */
	int			 mirror;
	unsigned		 db_count;	/* the database's count (DEL_USER) */

	int			 result;	/* STORE_OK or an error */
	char			*cause;		/* malloc'ed, when result != OK */
	unsigned		 count;
	int			 changed;	/* the op wrote something */

	/* For the writer: called on the event loop once op is durable. */
	void			(*done)(struct store_op *);
	void			*arg;
	TAILQ_ENTRY(store_op)	 entry;
};

/* A record's encoding (fleet.h sends records so): the largest, and to/from. */
#define STORE_RECORD_MAX	(1 + 8 + 1 + 4 + 8 + 8 + 8 + 32 + 2 + \
				 TOKEND_USER_MAX + 1 + TOKEND_NAME_MAX + 1 + \
				 TOKEND_SCOPES_MAX * (1 + TOKEND_SCOPE_MAX) + \
				 1 + 8 + 8 + 8)
size_t	 store_record_encode(const struct token_record *rec, uint8_t *buf);
int	 store_record_decode(uint64_t id, const uint8_t *buf, size_t len,
	     struct token_record *rec);

/* Open (creating the folder's files) with map_size bytes. */
int	 store_open(struct store **st, const char *dir, size_t map_size,
	     char **cause);
void	 store_close(struct store *st);

/*
 * Add a record.  Refuses a name the uid already uses (STORE_EXISTS) and a
 * uid with max_per_user unexpired tokens (STORE_LIMIT; 0 = no limit).
 */
int	 store_put_token(struct store *st, const struct token_record *rec,
	     unsigned max_per_user, int64_t now, char **cause);
/*
 * Reads between store_batch_begin() and store_batch_end() share one read
 * transaction (one event-loop pass of pipelined requests); a write
 * committed meanwhile renews it, so a REVOKE is seen by the next read.
 */
void	 store_batch_begin(struct store *st);
/* A write was committed (by any thread): the next read must see it. */
void	 store_written(struct store *st);
void	 store_batch_end(struct store *st);
/* Look up one record by id. */
int	 store_get_token(struct store *st, uint64_t id, struct token_record *rec);
/* Delete one record by id; *rec (may be NULL) receives what was deleted. */
int	 store_del_token(struct store *st, uint64_t id, struct token_record *rec,
	     char **cause);
/* Delete every record of uid; *count receives how many. */
int	 store_del_user(struct store *st, uint32_t uid, unsigned *count,
	     char **cause);
/*
 * Call cb for each record of uid (all != 0: every record) whose id is
 * from or above, in id order.  cb returns 0 to go on, 1 to stop there
 * (STORE_OK), -1 to stop with an error (STORE_ERR).
 */
int	 store_list(struct store *st, int all, uint32_t uid, uint64_t from,
	     int (*cb)(const struct token_record *, void *), void *arg);
/* Delete records whose expiry is <= now; *count receives how many. */
int	 store_purge_expired(struct store *st, int64_t now, unsigned *count,
	     char **cause);
/* Set last_used for n ids in one transaction; unknown ids are skipped. */
int	 store_set_last_used(struct store *st, const uint64_t *ids,
	     const int64_t *times, size_t n, char **cause);
void	 store_get_stats(struct store *st, struct store_stats *stats);
/*
 * Run n ops in one synced write transaction, each in a nested one so a
 * failing op undoes only itself; sets each op's result, cause and count.
 * For the writer thread: no other thread may write meanwhile.
 */
void	 store_apply(struct store *st, struct store_op **ops, size_t n);
/*
 * Bulk loading only (tokend-fill): sync = 0 stops syncing each commit;
 * store_set_sync(st, 1) syncs everything written so far and turns it back.
 */
int	 store_set_sync(struct store *st, int sync, char **cause);

#endif /* TOKEND_STORE_H */
