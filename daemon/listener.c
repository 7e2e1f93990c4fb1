/*
 * The listening socket and client connections: accept with limits, caller
 * identity from SO_PEERCRED, framing, pipelined replies, idle timeouts.
 *
 * Reads go straight into a per-connection buffer and every complete frame
 * is answered before one write(2) sends all the replies.  A frame header
 * is checked (magic, version, request type, length bounds) before its body
 * is buffered, so an oversize or unexpected frame costs nothing.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define IBUF_MIN	4096
#define OUT_HIGH_WATER	(256 * 1024)	/* stop reading while this much is unsent */
#define MAX_GROUPS	256

static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_idle_cb(evutil_socket_t, short, void *);
static void	listener_accept_cb(evutil_socket_t, short, void *);
static void	conn_process(struct conn *);
static void	conn_arm_idle(struct conn *);

/* A socket inherited from systemd (LISTEN_FDS), or -1. */
static int
listener_inherited(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int		 fd = 3;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return fd;
}

/* Bind path: remove a stale socket, refuse one a live daemon answers on. */
static int
listener_bind(const char *path, char **cause)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return cause_set(cause, "socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return cause_set(cause, "%s exists and is not a socket",
			    path);
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			return cause_set(cause, "another tokend is already "
			    "listening on %s", path);
		}
		if (probe != -1)
			close(probe);
		if (unlink(path) == -1)
			return cause_set(cause, "cannot remove stale socket %s: %s",
			    path, strerror(errno));
		log_info("removed stale socket %s", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return cause_set(cause, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		cause_set(cause, "cannot bind %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Anyone may connect: identity comes from SO_PEERCRED. */
	if (chmod(path, 0666) == -1) {
		cause_set(cause, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, 128) == -1) {
		cause_set(cause, "listen: %s", strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
listener_open(char **cause)
{
	int	fd;

	if ((fd = listener_inherited()) != -1) {
		log_info("using the listening socket passed by the service manager");
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
			return cause_set(cause, "inherited socket: %s",
			    strerror(errno));
	} else if ((fd = listener_bind(td->conf.socket_path, cause)) == -1)
		return -1;
	td->listen_fd = fd;
	td->ev_accept = event_new(td->base, fd, EV_READ | EV_PERSIST,
	    listener_accept_cb, NULL);
	if (td->ev_accept == NULL || event_add(td->ev_accept, NULL) == -1)
		return cause_set(cause, "cannot watch the listening socket");
	return 0;
}

void
listener_close(void)
{
	if (td->ev_accept != NULL) {
		event_free(td->ev_accept);
		td->ev_accept = NULL;
	}
	if (td->listen_fd != -1) {
		close(td->listen_fd);
		td->listen_fd = -1;
	}
}

/* Membership of gid among the peer's primary and supplementary groups. */
static int
peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t		groups[MAX_GROUPS];
	socklen_t	len = sizeof(groups);
	size_t		i;

	if (primary == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

static unsigned
conns_of_uid(uid_t uid)
{
	struct conn	*c;
	unsigned	 n = 0;

	TAILQ_FOREACH(c, &td->conns, entry)
		if (c->uid == uid)
			n++;
	return n;
}

/* Tell a refused client why, without waiting for it. */
static void
refuse(int fd, int code, const char *message)
{
	struct wbuf	w;
	ssize_t		n;

	wbuf_init(&w);
	enc_error(&w, code, message);
	if (!w.failed)
		n = send(fd, w.data, w.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	wbuf_free(&w);
	close(fd);
	td->stats.conns_refused++;
}

static void
listener_accept_cb(evutil_socket_t lfd, short events, void *arg)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	struct conn	*c;
	int		 fd;

	(void)events;
	(void)arg;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (td->stopping) {
		refuse(fd, PERR_SHUTDOWN, "tokend is shutting down");
		return;
	}
	if (td->nconns >= td->conf.max_connections) {
		log_warnx("refused uid %u pid %d: %u connections, the maximum",
		    (unsigned)cred.uid, (int)cred.pid, td->nconns);
		refuse(fd, PERR_BUSY, "too many connections");
		return;
	}
	if (conns_of_uid(cred.uid) >= td->conf.max_connections_per_uid) {
		log_warnx("refused uid %u pid %d: per-user connection limit "
		    "(%u) reached", (unsigned)cred.uid, (int)cred.pid,
		    td->conf.max_connections_per_uid);
		refuse(fd, PERR_BUSY, "too many connections from this user");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: calloc");
		close(fd);
		return;
	}
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->is_admin = cred.uid == 0 ||
	    (td->have_admin_gid && peer_in_group(fd, cred.gid, td->admin_gid));
	c->is_verifier = cred.uid == 0 || (td->have_verifier_gid &&
	    peer_in_group(fd, cred.gid, td->verifier_gid));
	wbuf_init(&c->out);
	c->ev_read = event_new(td->base, fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	c->ev_write = event_new(td->base, fd, EV_WRITE, conn_write_cb, c);
	c->ev_idle = evtimer_new(td->base, conn_idle_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL || c->ev_idle == NULL) {
		log_warnx("accept: cannot allocate events");
		conn_close(c);	/* not yet counted: conn_close handles it */
		return;
	}
	TAILQ_INSERT_TAIL(&td->conns, c, entry);
	td->nconns++;
	td->stats.conns_accepted++;
	event_add(c->ev_read, NULL);
	conn_arm_idle(c);
	log_debug("connection from uid %u pid %d%s%s", (unsigned)c->uid,
	    (int)c->pid, c->is_admin ? " (admin)" : "",
	    c->is_verifier ? " (verifier)" : "");
}

void
conn_close(struct conn *c)
{
	struct conn	*t;

	pamhelper_cancel(c);
	if (c->wop != NULL)
		c->wop->arg = NULL;	/* the write goes on; nobody to answer */
	TAILQ_FOREACH(t, &td->conns, entry)
		if (t == c)
			break;
	if (t != NULL) {
		TAILQ_REMOVE(&td->conns, c, entry);
		td->nconns--;
	}
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->ev_idle != NULL)
		event_free(c->ev_idle);
	close(c->fd);
	if (c->ibuf != NULL) {
		explicit_bzero(c->ibuf, c->icap);
		free(c->ibuf);
	}
	wbuf_free(&c->out);	/* c->issue went with pamhelper_cancel() */
	free(c);
	if (td->stopping && td->nconns == 0)
		event_base_loopbreak(td->base);
}

/* Drop a client that broke the protocol; it gets one ERROR frame first. */
static void
conn_violation(struct conn *c, const char *what)
{
	log_warnx("dropping uid %u pid %d: %s", (unsigned)c->uid, (int)c->pid,
	    what);
	td->stats.conns_dropped++;
	conn_error(c, PERR_MALFORMED, "%s", what);
	c->closing = 1;
}

void
conn_send(struct conn *c, struct wbuf *w)
{
	if (w->failed) {
		wbuf_reset(w);
		conn_error(c, PERR_INTERNAL, "reply too large");
		return;
	}
	wbuf_put(&c->out, w->data, w->len);
	wbuf_reset(w);
}

void
conn_error(struct conn *c, int code, const char *fmt, ...)
{
	char		msg[TOKEND_ERRMSG_MAX + 1];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (code > 0 && code < 16)
		td->stats.errors[code]++;
	enc_error(&c->out, code, msg);
}

/* Arm the idle timer unless an ISSUE is under way (the helper times that). */
static void
conn_arm_idle(struct conn *c)
{
	struct timeval	tv = { td->conf.idle_timeout, 0 };

	/* Waiting for PAM or for the disk is not the client being idle. */
	if (c->issue != NULL || c->wop != NULL)
		event_del(c->ev_idle);
	else
		event_add(c->ev_idle, &tv);
}

void
conn_flush(struct conn *c)
{
	ssize_t	n;

	if (c->processing)
		return;		/* conn_process flushes when it is done */
	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->ev_write, NULL);
			/* Backpressure: a client that doesn't read gets no more answers. */
			if (c->out.len - c->out_off > OUT_HIGH_WATER)
				event_del(c->ev_read);
			return;
		}
		log_debug("uid %u pid %d: send: %s", (unsigned)c->uid,
		    (int)c->pid, strerror(errno));
		conn_close(c);
		return;
	}
	wbuf_reset(&c->out);
	c->out_off = 0;
	if (c->closing && c->wop == NULL) {
		conn_close(c);
		return;
	}
	if (c->closing) {
		/* Its write's answer is still to come; nothing more is read. */
		event_del(c->ev_read);
		return;
	}
	event_add(c->ev_read, NULL);
}

static void
conn_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)events;
	conn_flush(c);
	/* conn_flush may have freed c; only touch it through the list. */
}

static void
conn_idle_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)events;
	log_debug("uid %u pid %d: idle for %u s, closing", (unsigned)c->uid,
	    (int)c->pid, td->conf.idle_timeout);
	if (c->ilen > 0)
		td->stats.conns_dropped++;
	conn_close(c);
}

/* Make room for at least want bytes in ibuf. */
static int
conn_reserve(struct conn *c, size_t want)
{
	uint8_t	*p;
	size_t	 cap;

	if (c->icap >= want)
		return 0;
	cap = c->icap ? c->icap : IBUF_MIN;
	while (cap < want)
		cap *= 2;
	if ((p = malloc(cap)) == NULL)
		return -1;
	if (c->ibuf != NULL) {
		memcpy(p, c->ibuf, c->ilen);
		explicit_bzero(c->ibuf, c->icap);
		free(c->ibuf);
	}
	c->ibuf = p;
	c->icap = cap;
	return 0;
}

static void
conn_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;

	(void)events;
	if (c->closing)
		return;
	/* Frames queued behind an ISSUE or a write are bounded: two of the largest. */
	if ((c->issue != NULL || c->wop != NULL) &&
	    c->ilen >= 2 * (TOKEND_HDR_LEN + (size_t)td->conf.max_frame)) {
		conn_violation(c, c->issue != NULL ?
		    "too much sent while a PAM conversation waits" :
		    "too much sent while a write waits");
		conn_flush(c);
		return;
	}
	if (c->ilen == c->icap && conn_reserve(c, c->icap + IBUF_MIN) == -1) {
		conn_close(c);
		return;
	}
	n = read(fd, c->ibuf + c->ilen, c->icap - c->ilen);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		if (c->ilen > 0)
			log_debug("uid %u pid %d: closed mid-frame (%zu bytes)",
			    (unsigned)c->uid, (int)c->pid, c->ilen);
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->ilen += (size_t)n;
	conn_process(c);
}

/*
 * Check a request frame header before its body is buffered: NULL when
 * *hdr may be taken, else why the client must be dropped.
 */
static const char *
frame_check(const uint8_t *p, struct frame_hdr *hdr)
{
	if (frame_hdr_decode(p, hdr) == -1)
		return "bad frame header";
	if (!msgtype_is_request(hdr->type))
		return "unexpected message type";
	if (hdr->length > td->conf.max_frame ||
	    !msg_len_ok(hdr->type, hdr->length))
		return "bad frame length";
	return NULL;
}

/*
 * While an ISSUE waits on PAM, find the first complete CONV_REPLY among
 * the frames queued from pos on, answer it and cut it out of ibuf; the
 * frames around it keep their turn.  1 when one was taken.
 */
static int
conn_take_conv_reply(struct conn *c, size_t pos)
{
	struct frame_hdr	hdr;
	size_t			need;

	while (c->ilen - pos >= TOKEND_HDR_LEN) {
		if (frame_check(c->ibuf + pos, &hdr) != NULL)
			return 0;	/* refused when its turn comes */
		need = TOKEND_HDR_LEN + hdr.length;
		if (c->ilen - pos < need)
			return 0;
		if (hdr.type == MSG_CONV_REPLY) {
			td->stats.requests[hdr.type]++;
			dispatch_frame(c, hdr.type, c->ibuf + pos + TOKEND_HDR_LEN,
			    hdr.length);
			explicit_bzero(c->ibuf + pos, need);
			memmove(c->ibuf + pos, c->ibuf + pos + need,
			    c->ilen - pos - need);
			c->ilen -= need;
			return 1;
		}
		pos += need;
	}
	return 0;
}

/*
 * Answer every complete frame in ibuf, in order.  While an ISSUE waits on
 * PAM only CONV_REPLY frames are taken; the rest wait their turn.
 */
static void
conn_process(struct conn *c)
{
	struct frame_hdr	 hdr;
	const char		*bad;
	size_t			 pos = 0, need;
	int			 handled = 0;

	if (c->processing)
		return;		/* the loop below picks up where it is */
	c->processing = 1;
	store_batch_begin(td->store);
	while (!c->closing && c->ilen - pos >= TOKEND_HDR_LEN) {
		if ((bad = frame_check(c->ibuf + pos, &hdr)) != NULL) {
			conn_violation(c, bad);
			break;
		}
		need = TOKEND_HDR_LEN + hdr.length;
		if (c->ilen - pos < need) {
			if (conn_reserve(c, need) == -1)
				c->closing = 1;
			break;
		}
		if (c->wop != NULL)
			break;		/* answered after the write, in order */
		if (c->issue != NULL && hdr.type != MSG_CONV_REPLY) {
			/* Answered after the ISSUE, in order; a reply may be behind. */
			if (conn_take_conv_reply(c, pos + need)) {
				handled = 1;
				continue;
			}
			break;
		}
		if (hdr.type < 16)
			td->stats.requests[hdr.type]++;
		dispatch_frame(c, hdr.type, c->ibuf + pos + TOKEND_HDR_LEN,
		    hdr.length);
		explicit_bzero(c->ibuf + pos, need);
		pos += need;
		handled = 1;
	}
	if (pos > 0) {
		memmove(c->ibuf, c->ibuf + pos, c->ilen - pos);
		explicit_bzero(c->ibuf + c->ilen - pos, pos);
		c->ilen -= pos;
	}
	store_batch_end(td->store);
	c->processing = 0;
	if (handled)
		conn_arm_idle(c);
	conn_flush(c);
}

void
conn_resume(struct conn *c)
{
	conn_arm_idle(c);
	conn_process(c);
}

/* SIGTERM: refuse new work, let queued answers go out, then the loop ends. */
void
conn_stop_all(void)
{
	struct conn	*c, *t;

	for (c = TAILQ_FIRST(&td->conns); c != NULL; c = t) {
		t = TAILQ_NEXT(c, entry);
		if (c->issue != NULL) {
			pamhelper_cancel(c);
			conn_error(c, PERR_SHUTDOWN, "tokend is shutting down");
		}
		c->closing = 1;
		conn_flush(c);
	}
	if (td->nconns == 0)
		event_base_loopbreak(td->base);
}
