/* SPDX-License-Identifier: ISC */
/*
 * libtokend: blocking client of the tokend protocol over a Unix socket.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "tokend.h"
#include "tokenfmt.h"

#define CONN_RXSIZE		(TOKEND_HDR_LEN + TOKEND_FRAME_MAX)
#define DEFAULT_TIMEOUT_MS	5000
#define ISSUE_STEP_TIMEOUT_MS	(15 * 60 * 1000)

struct tokend_conn {
	int		 fd;
	int		 timeout_ms;
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char		 message[TOKEND_ERRMSG_MAX + 1];
	struct wbuf	 tx;
	uint8_t		*rx;
	size_t		 rxstart;
	size_t		 rxend;
};

/* One frame read from the daemon: a view into conn->rx. */
struct frame {
	int		 type;
	const uint8_t	*body;
	size_t		 len;
};

void
tokend_wipe(void *p, size_t len)
{
	if (p != NULL)
		explicit_bzero(p, len);
}

const char *
tokend_strerror(enum tokend_err err)
{
	switch (err) {
	case TOKEND_OK:			return "success";
	case TOKEND_E_MALFORMED:	return "the daemon could not decode the request";
	case TOKEND_E_AUTH:		return "authentication failed";
	case TOKEND_E_DENIED:		return "permission denied";
	case TOKEND_E_NOT_FOUND:	return "not found";
	case TOKEND_E_INACTIVE:		return "token is not active";
	case TOKEND_E_EXISTS:		return "a token with that name already exists";
	case TOKEND_E_LIMIT:		return "too many tokens";
	case TOKEND_E_INVALID:		return "invalid argument";
	case TOKEND_E_BUSY:		return "daemon busy, try again";
	case TOKEND_E_TIMEOUT:		return "authentication timed out";
	case TOKEND_E_STORE:		return "token database error";
	case TOKEND_E_INTERNAL:		return "internal daemon error";
	case TOKEND_E_RATE_LIMITED:	return "too many failures, try again later";
	case TOKEND_E_SHUTDOWN:		return "daemon is shutting down";
	case TOKEND_E_UNAVAILABLE:	return "token database unavailable";
	case TOKEND_E_CONNECT:		return "cannot connect to tokend";
	case TOKEND_E_IO:		return "connection to tokend failed";
	case TOKEND_E_PROTOCOL:		return "protocol error";
	case TOKEND_E_NOMEM:		return "out of memory";
	case TOKEND_E_ARG:		return "invalid argument";
	case TOKEND_E_FORMAT:		return "not a well-formed token";
	case TOKEND_E_ABORTED:		return "aborted";
	}
	return "unknown error";
}

const char *
tokend_conn_message(const struct tokend_conn *conn)
{
	return conn == NULL ? "" : conn->message;
}

int
tokend_conn_fd(const struct tokend_conn *conn)
{
	return conn == NULL ? -1 : conn->fd;
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events before deadline; 0 ready, -1 timeout or error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = events };
	int64_t		left;
	int		rc;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

static void
conn_drop(struct tokend_conn *conn)
{
	if (conn->fd != -1)
		close(conn->fd);
	conn->fd = -1;
	conn->rxstart = conn->rxend = 0;
}

static enum tokend_err
conn_connect(struct tokend_conn *conn)
{
	struct sockaddr_un	sun;
	int			fd, err;
	socklen_t		len = sizeof(err);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, conn->path, strlen(conn->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return TOKEND_E_CONNECT;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			goto fail;
		if (wait_fd(fd, POLLOUT, now_ms() + conn->timeout_ms) == -1)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			goto fail;
	}
	conn->fd = fd;
	conn->rxstart = conn->rxend = 0;
	return TOKEND_OK;
fail:
	close(fd);
	return TOKEND_E_CONNECT;
}

enum tokend_err
tokend_conn_open(struct tokend_conn **connp, const char *path, int timeout_ms)
{
	struct tokend_conn	*conn;
	enum tokend_err		 err;

	*connp = NULL;
	/* secure_getenv: a setuid program's caller must not pick the daemon. */
	if (path == NULL && (path = secure_getenv("TOKEND_SOCKET")) == NULL)
		path = TOKEND_DEFAULT_SOCKET;
	if (strlen(path) == 0 || strlen(path) >= sizeof(conn->path))
		return TOKEND_E_ARG;
	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		return TOKEND_E_NOMEM;
	if ((conn->rx = malloc(CONN_RXSIZE)) == NULL) {
		free(conn);
		return TOKEND_E_NOMEM;
	}
	conn->fd = -1;
	conn->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	memcpy(conn->path, path, strlen(path) + 1);
	wbuf_init(&conn->tx);
	if ((err = conn_connect(conn)) != TOKEND_OK) {
		tokend_conn_close(conn);
		return err;
	}
	*connp = conn;
	return TOKEND_OK;
}

void
tokend_conn_close(struct tokend_conn *conn)
{
	if (conn == NULL)
		return;
	conn_drop(conn);
	wbuf_free(&conn->tx);
	explicit_bzero(conn->rx, CONN_RXSIZE);
	free(conn->rx);
	free(conn);
}

/*
 * Send and clear conn->tx.  When the daemon has closed the connection
 * (EPIPE, ECONNRESET) the socket is kept: a daemon that refuses a
 * connection at accept (too many connections, shutting down) sends one
 * ERROR frame first, and conn_request() reads it from there.
 */
static enum tokend_err
conn_flush(struct tokend_conn *conn, int64_t deadline)
{
	size_t	off = 0;
	ssize_t	n;

	if (conn->tx.failed) {
		wbuf_reset(&conn->tx);
		return TOKEND_E_ARG;
	}
	while (off < conn->tx.len) {
		n = send(conn->fd, conn->tx.data + off, conn->tx.len - off,
		    MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(conn->fd, POLLOUT, deadline) == 0)
			continue;
		wbuf_reset(&conn->tx);
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return TOKEND_E_IO;	/* its last word may be there */
		conn_drop(conn);
		return TOKEND_E_IO;
	}
	wbuf_reset(&conn->tx);
	return TOKEND_OK;
}

/*
 * Read the next frame into *f (valid until the next read).  *got_any tells
 * whether any byte of it arrived, so a caller can tell a connection the
 * daemon closed while idle from one that broke mid-answer.
 */
static enum tokend_err
conn_read_frame(struct tokend_conn *conn, struct frame *f, int64_t deadline,
    int *got_any)
{
	struct frame_hdr	hdr;
	const char		*why;
	size_t			have;
	ssize_t			n;

	*got_any = 0;
	for (;;) {
		have = conn->rxend - conn->rxstart;
		if (have > 0)
			*got_any = 1;
		switch (frame_next(conn->rx + conn->rxstart, have,
		    &frame_rules_response, &hdr, &why)) {
		case FRAME_BAD:
			goto protocol;
		case FRAME_COMPLETE:
			f->type = hdr.type;
			f->body = conn->rx + conn->rxstart + TOKEND_HDR_LEN;
			f->len = hdr.length;
			conn->rxstart += TOKEND_HDR_LEN + hdr.length;
			return TOKEND_OK;
		}
		/* Move a partial frame to the front to make room. */
		if (conn->rxstart > 0) {
			memmove(conn->rx, conn->rx + conn->rxstart, have);
			conn->rxstart = 0;
			conn->rxend = have;
		}
		n = read(conn->fd, conn->rx + conn->rxend,
		    CONN_RXSIZE - conn->rxend);
		if (n > 0) {
			conn->rxend += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(conn->fd, POLLIN, deadline) == 0)
			continue;
		conn_drop(conn);
		return TOKEND_E_IO;
	}
protocol:
	conn_drop(conn);
	return TOKEND_E_PROTOCOL;
}

/* Map an ERROR frame to its code and keep its message. */
static enum tokend_err
conn_error_frame(struct tokend_conn *conn, const struct frame *f)
{
	struct msg_error	m;

	if (dec_error(f->body, f->len, &m) == -1 || m.code == 0 ||
	    m.code > PERR_UNAVAILABLE)
		return TOKEND_E_PROTOCOL;
	memcpy(conn->message, m.message, sizeof(conn->message));
	return (enum tokend_err)m.code;
}

/*
 * Send what the caller put in conn->tx and read the first frame of the
 * answer.  A connection that the daemon closed while idle (idle timeout,
 * restart) is reopened once when retry is set: only for requests that are
 * safe to send twice.
 */
static enum tokend_err
conn_request(struct tokend_conn *conn, int want_type, struct frame *f,
    int retry)
{
	struct wbuf	 saved;
	enum tokend_err	 err;
	int64_t		 deadline = now_ms() + conn->timeout_ms;
	int		 got_any;

	conn->message[0] = '\0';
	if (conn->fd == -1 && (err = conn_connect(conn)) != TOKEND_OK) {
		wbuf_reset(&conn->tx);
		return err;
	}
	wbuf_init(&saved);
	if (retry)
		wbuf_put(&saved, conn->tx.data, conn->tx.len);
	err = conn_flush(conn, deadline);
	/* Also after a failed send: a refusal at connect is read, not lost. */
	if (err == TOKEND_E_IO && conn->fd != -1) {
		/* The daemon closed it: the frame stays readable in conn->rx. */
		err = conn_read_frame(conn, f, deadline, &got_any);
		if (err == TOKEND_OK)
			conn_drop(conn);
	} else if (err == TOKEND_OK)
		err = conn_read_frame(conn, f, deadline, &got_any);
	if (err == TOKEND_E_IO && retry && !got_any && !saved.failed &&
	    now_ms() < deadline) {
		conn_drop(conn);
		if ((err = conn_connect(conn)) == TOKEND_OK) {
			wbuf_put(&conn->tx, saved.data, saved.len);
			err = conn_flush(conn, deadline);
			if (err == TOKEND_OK)
				err = conn_read_frame(conn, f, deadline, &got_any);
		}
	}
	wbuf_free(&saved);
	if (err != TOKEND_OK)
		return err;
	if (f->type == MSG_ERROR)
		return conn_error_frame(conn, f);
	if (want_type != 0 && f->type != want_type) {
		conn_drop(conn);
		return TOKEND_E_PROTOCOL;
	}
	return TOKEND_OK;
}

static void
record_to_token(const struct proto_record *r, struct tokend_token *t)
{
	unsigned	i;

	memset(t, 0, sizeof(*t));
	memcpy(t->id, r->id, sizeof(t->id));
	memcpy(t->parent, r->parent, sizeof(t->parent));
	memcpy(t->user, r->user, sizeof(t->user));
	t->uid = r->uid;
	memcpy(t->name, r->name, sizeof(t->name));
	t->kind = r->kind;
	t->created = r->created;
	t->expires = r->expires;
	t->last_used = r->last_used;
	t->nscopes = r->nscopes;
	for (i = 0; i < r->nscopes; i++)
		memcpy(t->scopes[i], r->scopes[i], sizeof(t->scopes[i]));
}

/* Copy a C string into a fixed protocol field; -1 when it does not fit. */
static int
copy_field(char *dst, size_t size, const char *src)
{
	size_t	n;

	if (src == NULL) {
		dst[0] = '\0';
		return 0;
	}
	if ((n = strlen(src)) >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int
copy_scopes(char dst[][TOKEND_SCOPE_MAX + 1], uint8_t *n,
    const char *const *scopes, unsigned nscopes)
{
	unsigned	i;

	if (nscopes > TOKEND_SCOPES_MAX || (nscopes > 0 && scopes == NULL))
		return -1;
	for (i = 0; i < nscopes; i++)
		if (copy_field(dst[i], TOKEND_SCOPE_MAX + 1, scopes[i]) == -1)
			return -1;
	*n = (uint8_t)nscopes;
	return 0;
}

/* Run one CONV frame through the callback and send the CONV_REPLY. */
static enum tokend_err
issue_converse(struct tokend_conn *conn, const struct frame *f,
    tokend_conv_fn conv, void *arg, int64_t deadline, int secret_ok)
{
	struct msg_conv		 m;
	struct msg_conv_reply	*reply = NULL;
	struct tokend_prompt	 prompts[TOKEND_CONV_MAX];
	char			*answers[TOKEND_CONV_MAX];
	enum tokend_err		 err = TOKEND_E_ABORTED;
	int			 i, rc;

	if (dec_conv(f->body, f->len, &m) == -1) {
		conn_drop(conn);
		return TOKEND_E_PROTOCOL;
	}
	for (i = 0; i < m.n; i++)
		if (m.style[i] == CONV_SECRET && !secret_ok) {
			explicit_bzero(&m, sizeof(m));
			conn_drop(conn);
			return TOKEND_E_PROTOCOL;
		}
	for (i = 0; i < m.n; i++) {
		prompts[i].style = m.style[i];
		prompts[i].text = m.text[i];
		answers[i] = NULL;
	}
	rc = conv(m.n, prompts, answers, arg);
	if ((reply = calloc(1, sizeof(*reply))) == NULL) {
		err = TOKEND_E_NOMEM;
		rc = -1;
	}
	for (i = 0; i < m.n; i++) {
		if (rc == 0 && answers[i] != NULL &&
		    copy_field(reply->answers[i], sizeof(reply->answers[i]),
		    answers[i]) == -1) {
			err = TOKEND_E_ARG;
			rc = -1;
		}
		if (answers[i] != NULL) {
			explicit_bzero(answers[i], strlen(answers[i]));
			free(answers[i]);
		}
	}
	if (rc == 0) {
		reply->n = m.n;
		enc_conv_reply(&conn->tx, reply);
		err = conn_flush(conn, deadline);
		if (err == TOKEND_E_IO && conn->fd != -1)
			err = TOKEND_OK;	/* the caller reads why (timeout) */
	} else {
		/* The daemon may have given up first: report its reason. */
		struct frame	ef;
		int		got_any;

		if (err == TOKEND_E_ABORTED && wait_fd(conn->fd, POLLIN,
		    now_ms() + 1) == 0 && conn_read_frame(conn, &ef,
		    now_ms() + 100, &got_any) == TOKEND_OK &&
		    ef.type == MSG_ERROR)
			err = conn_error_frame(conn, &ef);
		conn_drop(conn);	/* the daemon ends the PAM helper */
	}
	if (reply != NULL) {
		explicit_bzero(reply, sizeof(*reply));
		free(reply);
	}
	explicit_bzero(&m, sizeof(m));	/* an enrolment's secret */
	return err;
}

/*
 * The request queued in conn->tx starts a PAM conversation: send it,
 * run each CONV through conv, and read until the final answer of type
 * want (in *f) or an ERROR.
 */
static enum tokend_err
conversation(struct tokend_conn *conn, int want, tokend_conv_fn conv,
    void *arg, struct frame *f, int secret_ok)
{
	enum tokend_err		err;
	int64_t			deadline;
	int			got_any, sendfail = 0;

	deadline = now_ms() + conn->timeout_ms;
	/* A failed send still leaves the refusal to read (conn_flush). */
	if ((err = conn_flush(conn, deadline)) != TOKEND_OK) {
		if (err != TOKEND_E_IO || conn->fd == -1)
			return err;
		sendfail = 1;
	}
	for (;;) {
		/* PAM waits for a person: each step gets its own long deadline. */
		deadline = now_ms() + ISSUE_STEP_TIMEOUT_MS;
		if ((err = conn_read_frame(conn, f, deadline, &got_any)) != TOKEND_OK)
			return err;
		if (f->type == MSG_CONV && conv != NULL) {
			err = issue_converse(conn, f, conv, arg, deadline,
			    secret_ok);
			if (err != TOKEND_OK)
				return err;
			continue;
		}
		if (f->type == want)
			return TOKEND_OK;
		if (f->type == MSG_ERROR) {
			err = conn_error_frame(conn, f);
			if (sendfail)
				conn_drop(conn);	/* the daemon closed it */
			return err;
		}
		conn_drop(conn);
		return TOKEND_E_PROTOCOL;
	}
}

enum tokend_err
tokend_token_issue(struct tokend_conn *conn, const struct tokend_issue_req *req,
    tokend_conv_fn conv, void *arg, char *token, struct tokend_token *info)
{
	struct msg_issue	m;
	struct msg_issued	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || req == NULL || conv == NULL || token == NULL)
		return TOKEND_E_ARG;
	token[0] = '\0';
	memset(&m, 0, sizeof(m));
	if (copy_field(m.user, sizeof(m.user), req->user) == -1 ||
	    copy_field(m.name, sizeof(m.name), req->name) == -1 ||
	    copy_scopes(m.scopes, &m.nscopes, req->scopes, req->nscopes) == -1)
		return TOKEND_E_ARG;
	m.expires = req->expires;
	conn->message[0] = '\0';
	if (conn->fd == -1 && (err = conn_connect(conn)) != TOKEND_OK)
		return err;
	enc_issue(&conn->tx, &m);
	if ((err = conversation(conn, MSG_ISSUED, conv, arg, &f, 0)) !=
	    TOKEND_OK)
		return err;
	if (dec_issued(f.body, f.len, &r) == -1) {
		explicit_bzero(&r, sizeof(r));
		conn_drop(conn);
		return TOKEND_E_PROTOCOL;
	}
	memcpy(token, r.token, TOKEND_TOKEN_SIZE);
	if (info != NULL)
		record_to_token(&r.rec, info);
	explicit_bzero(&r, sizeof(r));
	explicit_bzero(conn->rx, CONN_RXSIZE);
	return TOKEND_OK;
}

/* One OTP request; conv NULL when no PAM conversation may come. */
static enum tokend_err
otp_request(struct tokend_conn *conn, int op, const char *user,
    tokend_conv_fn conv, void *arg, struct tokend_otp_status *status)
{
	struct msg_otp		m;
	struct msg_otp_result	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL)
		return TOKEND_E_ARG;
	memset(&m, 0, sizeof(m));
	m.op = (uint8_t)op;
	if (copy_field(m.user, sizeof(m.user), user) == -1)
		return TOKEND_E_ARG;
	conn->message[0] = '\0';
	if (conn->fd == -1 && (err = conn_connect(conn)) != TOKEND_OK)
		return err;
	enc_otp(&conn->tx, &m);
	err = conversation(conn, MSG_OTP_RESULT, conv, arg, &f,
	    op == OTP_ENROLL);
	if (err == TOKEND_OK && dec_otp_result(f.body, f.len, &r) == -1) {
		conn_drop(conn);
		err = TOKEND_E_PROTOCOL;
	}
	/* The secret passed through the receive buffer. */
	explicit_bzero(conn->rx, conn->rxstart);
	explicit_bzero(conn->rx + conn->rxend, CONN_RXSIZE - conn->rxend);
	if (err != TOKEND_OK)
		return err;
	if (status != NULL) {
		status->enrolled = r.enrolled;
		status->since = r.since;
	}
	return TOKEND_OK;
}

enum tokend_err
tokend_otp_enroll(struct tokend_conn *conn, tokend_conv_fn conv, void *arg,
    struct tokend_otp_status *status)
{
	if (conv == NULL)
		return TOKEND_E_ARG;
	return otp_request(conn, OTP_ENROLL, NULL, conv, arg, status);
}

enum tokend_err
tokend_otp_status(struct tokend_conn *conn, const char *user,
    struct tokend_otp_status *status)
{
	return otp_request(conn, OTP_STATUS, user, NULL, NULL, status);
}

enum tokend_err
tokend_otp_remove(struct tokend_conn *conn, const char *user,
    tokend_conv_fn conv, void *arg, struct tokend_otp_status *status)
{
	if (user == NULL && conv == NULL)
		return TOKEND_E_ARG;
	return otp_request(conn, OTP_REMOVE, user, conv, arg, status);
}

struct list_acc {
	struct tokend_token	*v;
	size_t			 n;
	size_t			 cap;
};

static int
list_add_cb(const struct proto_record *rec, void *arg)
{
	struct list_acc		*acc = arg;
	struct tokend_token	*v;
	size_t			 cap;

	if (acc->n == acc->cap) {
		cap = acc->cap ? acc->cap * 2 : 16;
		if ((v = reallocarray(acc->v, cap, sizeof(*v))) == NULL)
			return -1;
		acc->v = v;
		acc->cap = cap;
	}
	record_to_token(rec, &acc->v[acc->n++]);
	return 0;
}

enum tokend_err
tokend_token_list(struct tokend_conn *conn, const char *user, int all,
    struct tokend_token **tokens, size_t *n)
{
	struct msg_list		m;
	struct list_acc		acc = { NULL, 0, 0 };
	struct frame		f;
	enum tokend_err		err;
	int			more, got_any;

	if (conn == NULL || tokens == NULL || n == NULL)
		return TOKEND_E_ARG;
	*tokens = NULL;
	*n = 0;
	memset(&m, 0, sizeof(m));
	m.flags = all ? LIST_F_ALL : 0;
	if (copy_field(m.user, sizeof(m.user), user) == -1)
		return TOKEND_E_ARG;
	enc_list(&conn->tx, &m);
	if ((err = conn_request(conn, MSG_LIST_RESULT, &f, 1)) != TOKEND_OK)
		return err;
	for (;;) {
		if (dec_list_result(f.body, f.len, &more, list_add_cb, &acc) == -1) {
			err = TOKEND_E_PROTOCOL;
			conn_drop(conn);
			goto fail;
		}
		if (!more)
			break;
		err = conn_read_frame(conn, &f, now_ms() + conn->timeout_ms,
		    &got_any);
		if (err != TOKEND_OK)
			goto fail;
		if (f.type == MSG_ERROR) {
			/* The daemon may end a series with an error. */
			err = conn_error_frame(conn, &f);
			goto fail;
		}
		if (f.type != MSG_LIST_RESULT) {
			err = TOKEND_E_PROTOCOL;
			conn_drop(conn);
			goto fail;
		}
	}
	*tokens = acc.v;
	*n = acc.n;
	return TOKEND_OK;
fail:
	free(acc.v);
	return err;
}

enum tokend_err
tokend_token_revoke(struct tokend_conn *conn, const char *id)
{
	struct msg_revoke	m;
	struct msg_revoked	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || id == NULL ||
	    copy_field(m.id, sizeof(m.id), id) == -1)
		return TOKEND_E_ARG;
	enc_revoke(&conn->tx, &m);
	if ((err = conn_request(conn, MSG_REVOKED, &f, 1)) != TOKEND_OK)
		return err;
	if (dec_revoked(f.body, f.len, &r) == -1)
		return TOKEND_E_PROTOCOL;
	return TOKEND_OK;
}

enum tokend_err
tokend_token_rename(struct tokend_conn *conn, const char *id, const char *name)
{
	struct msg_rename	m;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || id == NULL || name == NULL ||
	    copy_field(m.id, sizeof(m.id), id) == -1 ||
	    copy_field(m.name, sizeof(m.name), name) == -1)
		return TOKEND_E_ARG;
	enc_rename(&conn->tx, &m);
	if ((err = conn_request(conn, MSG_RENAMED, &f, 1)) != TOKEND_OK)
		return err;
	if (dec_renamed(f.body, f.len) == -1)
		return TOKEND_E_PROTOCOL;
	return TOKEND_OK;
}

enum tokend_err
tokend_user_unlock(struct tokend_conn *conn, const char *user, int *was_limited)
{
	struct msg_unlock	m;
	struct msg_unlocked	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || user == NULL || *user == '\0' ||
	    copy_field(m.user, sizeof(m.user), user) == -1)
		return TOKEND_E_ARG;
	enc_unlock(&conn->tx, &m);
	if ((err = conn_request(conn, MSG_UNLOCKED, &f, 1)) != TOKEND_OK)
		return err;
	if (dec_unlocked(f.body, f.len, &r) == -1)
		return TOKEND_E_PROTOCOL;
	if (was_limited != NULL)
		*was_limited = r.was_limited;
	return TOKEND_OK;
}

enum tokend_err
tokend_token_revoke_all(struct tokend_conn *conn, const char *user,
    uint32_t *count)
{
	struct msg_revoke_all	m;
	struct msg_revoked	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || copy_field(m.user, sizeof(m.user), user) == -1)
		return TOKEND_E_ARG;
	enc_revoke_all(&conn->tx, &m);
	if ((err = conn_request(conn, MSG_REVOKED, &f, 1)) != TOKEND_OK)
		return err;
	if (dec_revoked(f.body, f.len, &r) == -1)
		return TOKEND_E_PROTOCOL;
	if (count != NULL)
		*count = r.count;
	return TOKEND_OK;
}

enum tokend_err
tokend_token_exchange(struct tokend_conn *conn, const char *refresh,
    const char *const *scopes, unsigned nscopes, uint32_t lifetime,
    char *access, struct tokend_token *info)
{
	struct msg_exchange	m;
	struct msg_exchanged	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || refresh == NULL || access == NULL)
		return TOKEND_E_ARG;
	access[0] = '\0';
	memset(&m, 0, sizeof(m));
	if (copy_scopes(m.scopes, &m.nscopes, scopes, nscopes) == -1)
		return TOKEND_E_ARG;
	if (tokend_token_parse(refresh, NULL, NULL) != TOKEND_OK)
		return TOKEND_E_FORMAT;
	if (copy_field(m.token, sizeof(m.token), refresh) == -1)
		return TOKEND_E_FORMAT;
	m.lifetime = lifetime;
	enc_exchange(&conn->tx, &m);
	explicit_bzero(&m, sizeof(m));
	err = conn_request(conn, MSG_EXCHANGED, &f, 1);
	if (err != TOKEND_OK)
		return err;
	if (dec_exchanged(f.body, f.len, &r) == -1) {
		explicit_bzero(&r, sizeof(r));
		return TOKEND_E_PROTOCOL;
	}
	memcpy(access, r.token, TOKEND_TOKEN_SIZE);
	if (info != NULL)
		record_to_token(&r.rec, info);
	explicit_bzero(&r, sizeof(r));
	return TOKEND_OK;
}

enum tokend_err
tokend_token_rotate(struct tokend_conn *conn, const char *refresh,
    uint32_t overlap, char *token, struct tokend_token *info)
{
	struct msg_rotate	m;
	struct msg_issued	r;
	struct frame		f;
	enum tokend_err		err;

	if (conn == NULL || refresh == NULL || token == NULL)
		return TOKEND_E_ARG;
	token[0] = '\0';
	memset(&m, 0, sizeof(m));
	if (tokend_token_parse(refresh, NULL, NULL) != TOKEND_OK ||
	    copy_field(m.token, sizeof(m.token), refresh) == -1)
		return TOKEND_E_FORMAT;
	m.overlap = overlap;
	enc_rotate(&conn->tx, &m);
	explicit_bzero(&m, sizeof(m));
	if ((err = conn_request(conn, MSG_ISSUED, &f, 1)) != TOKEND_OK)
		return err;
	if (dec_issued(f.body, f.len, &r) == -1) {
		explicit_bzero(&r, sizeof(r));
		return TOKEND_E_PROTOCOL;
	}
	memcpy(token, r.token, TOKEND_TOKEN_SIZE);
	if (info != NULL)
		record_to_token(&r.rec, info);
	explicit_bzero(&r, sizeof(r));
	return TOKEND_OK;
}

enum tokend_err
tokend_token_verify(struct tokend_conn *conn, const char *token, int *active,
    struct tokend_token *info)
{
	struct msg_verify		m;
	struct msg_verify_result	r;
	struct frame			f;
	enum tokend_err			err;

	if (conn == NULL || token == NULL || active == NULL)
		return TOKEND_E_ARG;
	*active = 0;
	if (tokend_token_parse(token, NULL, NULL) != TOKEND_OK)
		return TOKEND_E_FORMAT;
	if (copy_field(m.token, sizeof(m.token), token) == -1)
		return TOKEND_E_FORMAT;
	enc_verify(&conn->tx, &m);
	explicit_bzero(&m, sizeof(m));
	if ((err = conn_request(conn, MSG_VERIFY_RESULT, &f, 1)) != TOKEND_OK)
		return err;
	if (dec_verify_result(f.body, f.len, &r) == -1)
		return TOKEND_E_PROTOCOL;
	*active = r.active;
	if (info != NULL) {
		if (r.active)
			record_to_token(&r.rec, info);
		else
			memset(info, 0, sizeof(*info));
	}
	return TOKEND_OK;
}

enum tokend_err
tokend_status_get(struct tokend_conn *conn, struct tokend_status *status)
{
	struct msg_status_result	*r;
	struct frame			 f;
	enum tokend_err			 err;
	unsigned			 i;

	if (conn == NULL || status == NULL)
		return TOKEND_E_ARG;
	memset(status, 0, sizeof(*status));
	enc_status(&conn->tx);
	if ((err = conn_request(conn, MSG_STATUS_RESULT, &f, 1)) != TOKEND_OK)
		return err;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return TOKEND_E_NOMEM;
	if (dec_status_result(f.body, f.len, r) == -1) {
		free(r);
		return TOKEND_E_PROTOCOL;
	}
	memcpy(status->version, r->version, sizeof(status->version));
	status->healthy = r->healthy;
	status->n = r->n;
	for (i = 0; i < r->n; i++) {
		memcpy(status->counters[i].key, r->counters[i].key,
		    sizeof(status->counters[i].key));
		status->counters[i].value = r->counters[i].value;
	}
	free(r);
	return TOKEND_OK;
}

enum tokend_err
tokend_token_parse(const char *token, int *kind, char *id)
{
	struct tokenfmt	tf;
	int		rc;

	if (token == NULL)
		return TOKEND_E_FORMAT;
	rc = tokenfmt_parse(token, strnlen(token, TOKEND_TOKEN_MAX + 1), &tf);
	if (rc == 0) {
		if (kind != NULL)
			*kind = tf.kind;
		if (id != NULL)
			tokenfmt_id_str(tokenfmt_load64(tf.payload), id);
	}
	explicit_bzero(&tf, sizeof(tf));
	return rc == 0 ? TOKEND_OK : TOKEND_E_FORMAT;
}
