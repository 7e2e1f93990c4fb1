/*
 * The token store: refresh-token records in LMDB.
 *
 * Databases in one environment (the --db folder):
 *   tokens    id (8 bytes, big-endian)               -> record (see store.c)
 *   byuser    uid (4 bytes BE) + id (8 bytes BE)      -> empty
 *   byexpiry  expires (8 bytes BE) + id (8 bytes BE)  -> empty
 *
 * Only the keyed hash of a token's secret is stored.  Writes commit with
 * a synced transaction before the call returns.  Reads reuse one reset
 * read transaction so the hot path allocates nothing.
 */
#ifndef TOKEND_STORE_H
#define TOKEND_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct store;

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
 * Call cb for each record of uid (all != 0: every record), in id order.
 * cb returns 0 to go on, -1 to stop (then store_list returns STORE_ERR).
 */
int	 store_list(struct store *st, int all, uint32_t uid,
	     int (*cb)(const struct token_record *, void *), void *arg);
/* Delete records whose expiry is <= now; *count receives how many. */
int	 store_purge_expired(struct store *st, int64_t now, unsigned *count,
	     char **cause);
/* Set last_used for n ids in one transaction; unknown ids are skipped. */
int	 store_set_last_used(struct store *st, const uint64_t *ids,
	     const int64_t *times, size_t n, char **cause);
void	 store_get_stats(struct store *st, struct store_stats *stats);
/*
 * Bulk loading only (tokend-fill): sync = 0 stops syncing each commit;
 * store_set_sync(st, 1) syncs everything written so far and turns it back.
 */
int	 store_set_sync(struct store *st, int sync, char **cause);

#endif /* TOKEND_STORE_H */
