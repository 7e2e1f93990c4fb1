/* SPDX-License-Identifier: ISC */
/*
 * Fleet mode (store = postgresql): many hosts, one set of tokens.
 *
 * PostgreSQL holds the records; each host keeps a full copy in its LMDB
 * store (db_dir), which VERIFY, EXCHANGE and LIST read as on one host.
 * A third process, the fleet process (`tokend --fleet`, fleet.c, the
 * engine's user, started by the monitor), owns the libpq connection:
 *
 *   - a write (ISSUE, REVOKE, REVOKE_ALL, RENAME, ROTATE and its replay
 *     and undo) goes to PostgreSQL
 *     first, in one transaction of a server-side function (fleetsql.c),
 *     which also counts the per-user limit across hosts under a per-user
 *     row lock; only after its COMMIT does the engine apply it to its copy
 *     and answer;
 *   - every write also bumps one counter row and appends (seq, id) to a
 *     change log in the same transaction, so the log's order is the
 *     commit order, and NOTIFYs; the fleet process LISTENs, and polls the
 *     counter twice a second as the fallback, and sends each changed
 *     record (or its deletion) to the engine;
 *   - on every start it sends a consistent snapshot first, and after a
 *     reconnect it catches up from the log (a snapshot again when the log
 *     was trimmed past it);
 *   - every successful round trip is a contact; without one for
 *     fleet_max_staleness the engine answers VERIFY and EXCHANGE with
 *     UNAVAILABLE (fail closed).
 *
 * Across hosts a token belongs to a user name: the fleet process maps it
 * to this host's uid (getpwnam) and leaves out records of names that are
 * no local account.
 *
 * The link between the engine and the fleet process is a SOCK_SEQPACKET
 * socketpair, one frame per datagram (the protocol's header, the types
 * below), checked like the monitor's channel.
 */
#ifndef TOKEND_FLEET_H
#define TOKEND_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "store.h"

#define FLEET_SCHEMA_VERSION	1

/* engine -> fleet process */
#define FL_INIT		0xe1	/* string conninfo */
#define FL_WRITE	0xe2	/* u32 job, u8 op type, u32 max_per_user, i64 now,
				   i64 until, u64 id, u32 uid, record */
#define FL_LOOKUP	0xe3	/* u32 job, u64 id */
#define FL_LAST_USED	0xe4	/* u32 n, n x (u64 id, i64 time) */
#define FL_PURGE	0xe5	/* i64 now */
/* fleet process -> engine */
#define FL_RESULT	0xe9	/* u32 job, u8 -result, u32 count, string cause,
				   u8 has record, record */
#define FL_FOUND	0xea	/* u32 job, u8 found, record */
#define FL_CHANGE	0xeb	/* u8 FL_CHANGE_*, u64 id, record (PUT only) */
#define FL_SNAPSHOT	0xec	/* u8 1: begin, 2: end */
#define FL_CONTACT	0xed	/* u8 connected, i64 seq, string server */

#define FL_CHANGE_PUT	1	/* the record is this now */
#define FL_CHANGE_DEL	2	/* the record is gone (or no local account) */

/* Records per FL_LAST_USED message. */
#define FL_LAST_USED_MAX	512

/* A write that could not reach the database: never the user's fault. */
#define STORE_UNAVAIL	-6

/* Rules the engine checks the fleet process's messages against. */
extern const struct frame_rules fleet_to_engine;

/*
 * The parameters of tokend_issue() (fleetsql.c) for rec, as libpq's
 * text values in v[0..FLEET_ISSUE_NPARAMS): the fleet process's ISSUE
 * and tokend --import-lmdb.  Wipe with explicit_bzero when done (the
 * hash is in it).
 */
#define FLEET_ISSUE_SQL	"SELECT tokend_issue($1, $2, $3, $4, $5, $6, " \
			"decode($7, 'hex'), $8, $9, $10, $11)"
#define FLEET_ISSUE_NPARAMS	11
struct fleet_issue_params {
	char		 num[7][24];
	char		 hex[2 * 32 + 1];
	char		 scopes[TOKEND_SCOPES_MAX * (TOKEND_SCOPE_MAX + 1) + 1];
	const char	*v[FLEET_ISSUE_NPARAMS];
};
void	 fleet_issue_params(struct fleet_issue_params *,
	     const struct token_record *rec, unsigned max_per_user,
	     int64_t now);

/* Records on the link, in the store's own encoding (store.h). */
void	 fleet_put_record(struct wbuf *, const struct token_record *);
void	 fleet_get_record(struct rbuf *, struct token_record *);

/* ---- the engine's side (fleetlink.c) ---- */

struct event_base;

/* Fleet mode: take the link (fd) and send FL_INIT.  0 or -1. */
int	 fleetlink_start(struct event_base *, int fd, const char *conninfo);
/* 1 in fleet mode. */
int	 fleetlink_on(void);
/*
 * 1 when the host cannot vouch for tokens now: never in touch with the
 * database, or not for fleet_max_staleness (VERIFY/EXCHANGE answer
 * UNAVAILABLE).  Always 0 on one host.
 */
int	 fleetlink_stale(void);
/* 1 while connected (writes fail at once otherwise). */
int	 fleetlink_connected(void);
/*
 * A write for the database first: op's done callback runs as for the
 * writer, after the database committed and the host's copy has it too,
 * or with op->result STORE_UNAVAIL or an error.
 */
void	 fleetlink_submit(struct store_op *op);
/*
 * Ask the database for token id, which the host's copy lacks (issued
 * on another host a moment ago).  1: asked; the frame should be retried
 * after conn_wake_lookups().  0: not asked (asked lately, or too many
 * out): answer from the copy.
 */
int	 fleetlink_lookup(uint64_t id);
void	 fleetlink_last_used(const uint64_t *ids, const int64_t *times,
	     size_t n);
void	 fleetlink_purge(int64_t now);
/* STATUS: seconds since the last contact (-1: never), server, sequence. */
int64_t	 fleetlink_age(void);
const char *fleetlink_server(void);
uint64_t fleetlink_seq(void);

/* ---- the fleet process (fleet.c) and tokend --init-db (fleetsql.c) ---- */

int	 fleet_main(int argc, char **argv) __attribute__((noreturn));
/* Create or upgrade the schema; 0, or -1 after printing why. */
int	 fleet_init_db(const char *conninfo);
/*
 * Copy the live tokens of a one-host LMDB store (dir) into the database,
 * so that they keep working on the fleet (the same key file is needed).
 * Idempotent: tokens there already are left alone.  0, or -1.
 */
int	 fleet_import_lmdb(const char *conninfo, const char *dir,
	     uint64_t map_size);

#endif /* TOKEND_FLEET_H */
