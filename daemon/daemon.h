/*
 * tokend's process-wide state and the interfaces between its files:
 * listener.c (socket, connections, framing), dispatch.c (requests),
 * pamhelper.c (PAM in a child process), lastused.c (batched "last used").
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
struct pamhelper;
struct store_op;

/* Counters reported by STATUS to admins. */
struct counters {
	uint64_t	requests[16];		/* by request type (index = type) */
	uint64_t	errors[16];		/* by proto_err code */
	uint64_t	conns_accepted;
	uint64_t	conns_refused;		/* over max_connections or the per-uid cap */
	uint64_t	conns_dropped;		/* protocol violations and idle timeouts */
	uint64_t	issued;
	uint64_t	revoked;
	uint64_t	exchanged;
	uint64_t	exchanged_cached;	/* of exchanged: refresh record from the cache */
	uint64_t	verified_active;
	uint64_t	verified_inactive;
	uint64_t	verified_cached;	/* of verified_active: from the answer cache */
	uint64_t	pam_failures;
	uint64_t	pam_timeouts;
	uint64_t	purged;
	uint64_t	rate_limited;		/* requests refused by a failure limit */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 qentry;	/* in the queue for a PAM helper */
	int			 fd;
	uid_t			 uid;		/* from SO_PEERCRED */
	gid_t			 gid;
	pid_t			 pid;
	int			 is_admin;
	int			 is_verifier;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_idle;
	uint8_t			*ibuf;		/* received, not yet handled */
	size_t			 ilen;
	size_t			 icap;
	struct wbuf		 out;		/* to send */
	size_t			 out_off;
	int			 closing;	/* close once out is flushed */
	int			 processing;	/* inside conn_process: no re-entry, no free */
	int			 queued;	/* waiting for a PAM helper slot */
	struct msg_issue	*issue;		/* the ISSUE in progress */
	struct pamhelper	*pam;		/* its helper, once started */
	struct store_op		*wop;		/* a write in flight: later frames wait */
};

TAILQ_HEAD(connlist, conn);

struct daemon {
	struct event_base	*base;
	struct config		 conf;
	char			 conf_path[PATH_MAX];
	int			 conf_given;	/* -c on the command line */
	struct store		*store;
	struct token_keys	*keys;
	int			 listen_fd;
	struct event		*ev_accept;
	struct connlist		 conns;
	unsigned		 nconns;
	struct connlist		 pam_queue;
	unsigned		 npam;		/* live helpers */
	gid_t			 admin_gid;
	gid_t			 verifier_gid;
	int			 have_admin_gid;
	int			 have_verifier_gid;
	int			 stopping;
	struct counters		 stats;
	int64_t			 started;
};

extern struct daemon	*td;

/* listener.c */
int	 listener_open(char **cause);
void	 listener_close(void);
void	 conn_close(struct conn *);
/* Queue a frame already encoded in w (consumed) / an error for c. */
void	 conn_send(struct conn *, struct wbuf *);
void	 conn_error(struct conn *, int code, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
/* Write what is queued; re-arm reading.  Safe to call at any time. */
void	 conn_flush(struct conn *);
/* The ISSUE on c ended (reply queued): handle the frames that waited. */
void	 conn_resume(struct conn *);
void	 conn_stop_all(void);

/* dispatch.c */
void	 dispatch_frame(struct conn *, int type, const uint8_t *, size_t);
void	 dispatch_issue_authenticated(struct conn *);
const char *dispatch_user_name(uid_t, char *, size_t);
int	 dispatch_user_uid(const char *, uid_t *);

/* pamhelper.c */
int	 pamhelper_init(char **cause);
/* tokend --pam-helper ...: the helper process (never returns). */
int	 pamhelper_exec_main(int argc, char **argv) __attribute__((noreturn));
/* Start or queue the ISSUE held in c->issue for user (uid). */
void	 pamhelper_request(struct conn *);
/* Pass a CONV_REPLY frame body from the client to its helper. */
void	 pamhelper_reply(struct conn *, const uint8_t *, size_t);
/* The client went away or the daemon stops: kill its helper, if any. */
void	 pamhelper_cancel(struct conn *);
void	 pamhelper_reap(void);

/* lastused.c */
int	 lastused_init(void);
void	 lastused_note(uint64_t id, int64_t now, int64_t stored);
int64_t	 lastused_get(uint64_t id, int64_t stored);
void	 lastused_forget(uint64_t id);
void	 lastused_flush(void);
void	 lastused_free(void);

#endif /* TOKEND_DAEMON_H */
