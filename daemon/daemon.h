/* SPDX-License-Identifier: ISC */
/*
 * The engine's process-wide state and the small interfaces between its
 * files: dispatch.c (requests) and lastused.c (batched "last used").
 * The monitor and the channel (monitor.h), the socket (listener.h),
 * connections (conn.h), PAM (pamhelper.h), users and accounts
 * (account.h), the store (store.h) and its writer (writer.h) have
 * headers of their own.
 */
#ifndef TOKEND_DAEMON_H
#define TOKEND_DAEMON_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "proto.h"

struct store;
struct token_keys;

/* Counters reported by STATUS to admins. */
struct counters {
	uint64_t	requests[16];		/* by request type (index = type) */
	uint64_t	errors[16];		/* by proto_err code */
	uint64_t	conns_accepted;
	uint64_t	conns_refused;		/* over max_connections or the per-uid cap */
	uint64_t	conns_dropped;		/* protocol violations and idle timeouts */
	uint64_t	output_blocked;		/* stops for a client that does not read */
	uint64_t	issued;
	uint64_t	revoked;
	uint64_t	exchanged;
	uint64_t	exchanged_cached;	/* of exchanged: refresh record from the cache */
	uint64_t	verified_active;
	uint64_t	verified_inactive;
	uint64_t	verified_cached;	/* of verified_active: from the answer cache */
	uint64_t	pam_failures;
	uint64_t	pam_timeouts;
	uint64_t	accounts_refused;	/* VERIFY/EXCHANGE refused: account disabled */
	uint64_t	purged;
	uint64_t	rate_limited;		/* requests refused by a failure limit */
	uint64_t	rotated;
	uint64_t	reuse_detected;		/* rotated tokens replayed after their overlap */
};

struct daemon {
	struct event_base	*base;
	struct config		 conf;
	char			 conf_path[PATH_MAX];
	int			 conf_given;	/* -c on the command line */
	struct store		*store;
	struct token_keys	*keys;
	int			 listen_fd;
	struct event		*ev_accept;
	gid_t			 admin_gid;
	gid_t			 verifier_gid;
	int			 have_admin_gid;
	int			 have_verifier_gid;
	int			 stopping;
	struct counters		 stats;
	int64_t			 started;
};

extern struct daemon	*td;

/* dispatch.c: the frame handler of every connection (conn.h). */
void	 dispatch_init(void);

/* lastused.c */
int	 lastused_init(void);
void	 lastused_note(uint64_t id, int64_t now, int64_t stored);
int64_t	 lastused_get(uint64_t id, int64_t stored);
void	 lastused_forget(uint64_t id);
void	 lastused_flush(void);
void	 lastused_free(void);

#endif /* TOKEND_DAEMON_H */
