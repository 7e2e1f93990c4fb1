/* SPDX-License-Identifier: ISC */
/*
 * Client connections: conn.c owns struct conn and nothing else frees one
 * or touches its buffers.  The other modules only ask it to send, to
 * fail, to wait or to finish (tmux's server-client.c owns struct client
 * the same way).
 *
 * A connection answers its frames strictly in order.  A request that
 * cannot be answered at once puts the connection in a waiting state
 * (conn_wait); frames behind it stay buffered, bounded, until the owner
 * of the wait calls conn_done().  A request may also ask to be tried
 * again later (the frame handler returns CONN_FRAME_RETRY): the frame
 * stays where it is and is handed to the handler again after conn_wake().
 *
 * conn_close() may be called from anywhere, also from inside a callback
 * of the same connection: it cancels what the connection waits for,
 * closes the socket at once and frees the memory only at the end of the
 * event-loop pass, so no caller is left holding a freed connection.
 * Every function below does nothing on a closed connection.
 */
#ifndef TOKEND_CONN_H
#define TOKEND_CONN_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct conn;
struct wbuf;

/* Who is on the other end: SO_PEERCRED and SO_PEERGROUPS, read at accept. */
struct peer {
	uid_t		uid;
	gid_t		gid;
	pid_t		pid;
	int		is_admin;
	int		is_verifier;
};

enum conn_state {
	CONN_READY,		/* reading and answering frames */
	CONN_WAIT_LOOKUP,	/* a frame waits for a user look-up or account check */
	CONN_ISSUE_QUEUED,	/* an ISSUE waits for a PAM helper */
	CONN_IN_PAM,		/* an ISSUE's PAM conversation runs */
	CONN_FAIL_DELAY,	/* a failed ISSUE waits out fail_delay_ms */
	CONN_WAIT_WRITE,	/* a write waits to be durable */
	CONN_LISTING,		/* a LIST goes on when the client has read some */
	CONN_WAIT_MONITOR,	/* an OTP request waits for the monitor's answer */
	CONN_CLOSED,		/* gone; freed at the end of the event-loop pass */
	CONN_NSTATES
};

/* What the frame handler returns. */
#define CONN_FRAME_DONE		0	/* taken: answered, or waiting (conn_wait) */
#define CONN_FRAME_RETRY	1	/* not taken: hand it over again after conn_wake() */

typedef int (*conn_frame_fn)(struct conn *, int type, const uint8_t *body,
    size_t len);

/*
 * Every byte a connection may hold, whatever its client sends: frames
 * waiting behind a request, and answers its client has not read yet
 * (reading and answering stop above CONN_OUT_HIGH until it drops below
 * CONN_OUT_LOW).  tokend.conf(5) states the resulting bound.
 */
#define CONN_OUT_HIGH		(64 * 1024)
#define CONN_OUT_LOW		(16 * 1024)

/*
 * What the connections call upwards, set once by the daemon: the frame
 * handler (dispatch.c), and what brackets one pass over a connection's
 * frames (one read transaction of the store for all of them).
 */
struct conn_ops {
	conn_frame_fn	  frame;
	void		(*batch_begin)(void);
	void		(*batch_end)(void);
};

struct event_base;

void	 conn_init(struct event_base *, const struct conn_ops *);
/* Take over an accepted socket; NULL (fd closed) when out of memory. */
struct conn *conn_new(int fd, const struct peer *);
const struct peer *conn_peer(const struct conn *);
enum conn_state conn_state(const struct conn *);
const char *conn_state_name(enum conn_state);
unsigned conn_count(void);
unsigned conn_count_uid(uid_t);
unsigned conn_count_state(enum conn_state);

/* Queue an encoded frame (w is emptied) / an ERROR frame for the client. */
void	 conn_send(struct conn *, struct wbuf *w);
void	 conn_error(struct conn *, int code, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
/*
 * The hot path's send: enc(w, arg) appends one whole frame to w, which is
 * c's own output, so the answer is not encoded elsewhere and copied.
 * Returns the frame's bytes (valid until the handler returns; *len its
 * length), or NULL when it could not be encoded (an ERROR is queued).
 */
typedef void (*conn_encode_fn)(struct wbuf *w, void *arg);
const uint8_t *conn_encode(struct conn *, conn_encode_fn enc, void *arg,
	     size_t *len);
/* The client broke the protocol: ERROR 1, cancel any wait, then close. */
void	 conn_violation(struct conn *, const char *what);

/*
 * The frame just handed over is under way in state; cancel(ctx) is
 * called if the connection closes before conn_done().  Later frames wait.
 */
void	 conn_wait(struct conn *, enum conn_state, void (*cancel)(void *),
	     void *ctx);
/* Move a waiting request to another waiting state (ISSUE: queued -> PAM). */
void	 conn_set_state(struct conn *, enum conn_state);
/*
 * Like conn_wait(CONN_LISTING): resume(c, ctx) is called each time the
 * client has read enough of what is queued.  The resumer ends with
 * conn_done() or waits again.
 */
void	 conn_wait_drain(struct conn *, void (*resume)(struct conn *, void *),
	     void (*cancel)(void *), void *ctx);
/* 1 while the client has more unread answers queued than it may have. */
int	 conn_output_full(const struct conn *);
/* The request under way has its final answer queued: go on with the next. */
void	 conn_done(struct conn *);
/* Connections in CONN_WAIT_LOOKUP hand their frame over again. */
void	 conn_wake_lookups(void);

void	 conn_close(struct conn *);
/*
 * 1 when the client has gone already (closed both ways), though the
 * daemon has not read its end of file yet: an answer that would be
 * lost (ROTATE undoes itself then).
 */
int	 conn_hung_up(const struct conn *);
/* SIGTERM: refuse new work, answer what is under way, then the loop ends. */
void	 conn_stop_all(void);

#endif /* TOKEND_CONN_H */
