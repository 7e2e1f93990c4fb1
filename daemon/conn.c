/* SPDX-License-Identifier: ISC */
/*
 * Client connections (conn.h): reading and framing, the order of
 * answers, backpressure, idle timeouts, waiting states and the one place
 * a connection is freed.
 *
 * Reads go straight into a per-connection buffer and every complete
 * frame is answered before one send(2) carries all the replies.  A frame
 * header is checked (magic, version, request type, length bounds) before
 * its body is buffered, so an oversize or unexpected frame costs nothing.
 *
 * Memory per connection is bounded whatever the client does: the input
 * buffer never holds more than two of the largest requests, and a client
 * that does not read its answers stops being read from (and answered)
 * once CONN_OUT_HIGH bytes wait for it, until it has read them down to
 * CONN_OUT_LOW.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "daemon.h"
#include "log.h"

#define IBUF_MIN	4096
#define IBUF_KEEP	(16 * 1024)	/* an idle connection keeps no more */

struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* in conns, then in the graveyard */
	int			 fd;
	struct peer		 peer;
	enum conn_state		 state;
	int			 closing;	/* read no more; close once answered */
	int			 processing;	/* inside conn_process */
	int			 blocked;	/* stopped for output above CONN_OUT_HIGH */
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_idle;
	struct event		*ev_kick;	/* go on with the frames, next pass */
	int			 reading;	/* ev_read is added */
	uint8_t			*ibuf;		/* received, not yet handled */
	size_t			 ilen;
	size_t			 icap;
	struct wbuf		 out;		/* to send */
	size_t			 out_off;
	/* The request under way, while state is neither READY nor CLOSED. */
	void			(*cancel)(void *);
	void			(*resume)(struct conn *, void *);
	void			*ctx;
};

TAILQ_HEAD(conn_list, conn);

static struct conn_list	 conns = TAILQ_HEAD_INITIALIZER(conns);
static struct conn_list	 graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static unsigned		 nconns;
static struct event_base *base;
static struct conn_ops	 ops;
static struct event	*ev_reaper;

static const char *const state_names[CONN_NSTATES] = {
	"ready", "waiting for a user look-up", "waiting for a PAM helper",
	"in PAM", "failure delay", "waiting for a write", "listing",
	"waiting for the monitor", "closed",
};

static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_idle_cb(evutil_socket_t, short, void *);
static void	conn_kick_cb(evutil_socket_t, short, void *);
static void	conn_reaper_cb(evutil_socket_t, short, void *);
static void	conn_process(struct conn *);
static void	conn_flush(struct conn *);

void
conn_init(struct event_base *b, const struct conn_ops *o)
{
	base = b;
	ops = *o;
	if ((ev_reaper = event_new(base, -1, 0, conn_reaper_cb, NULL)) == NULL)
		fatalx("cannot create the connection reaper");
}

int
conn_hung_up(const struct conn *c)
{
	struct pollfd	pfd = { c->fd, 0, 0 };

	if (c->state == CONN_CLOSED)
		return 1;
	/* POLLHUP: both ways shut; a client that only ended its writes still reads. */
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)) != 0;
}

const struct peer *
conn_peer(const struct conn *c)
{
	return &c->peer;
}

enum conn_state
conn_state(const struct conn *c)
{
	return c->state;
}

const char *
conn_state_name(enum conn_state s)
{
	return s < CONN_NSTATES ? state_names[s] : "?";
}

unsigned
conn_count(void)
{
	return nconns;
}

unsigned
conn_count_uid(uid_t uid)
{
	struct conn	*c;
	unsigned	 n = 0;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->peer.uid == uid)
			n++;
	return n;
}

unsigned
conn_count_state(enum conn_state s)
{
	struct conn	*c;
	unsigned	 n = 0;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->state == s)
			n++;
	return n;
}

/* Most a connection may have buffered: two of the largest requests. */
static size_t
conn_in_max(void)
{
	return 2 * (TOKEND_HDR_LEN + (size_t)td->conf.max_frame);
}

static size_t
conn_pending(const struct conn *c)
{
	return c->out.len - c->out_off;
}

int
conn_output_full(const struct conn *c)
{
	return conn_pending(c) > CONN_OUT_HIGH;
}

/* Go on with c's frames (or its listing) in a callback of its own. */
static void
conn_kick(struct conn *c)
{
	if (c->state != CONN_CLOSED)
		event_active(c->ev_kick, EV_TIMEOUT, 1);
}

/*
 * The idle timer runs while the client is the one expected to act: to
 * send a request, or to read its answers.  Waiting for PAM, a look-up or
 * the disk is not the client being idle.
 */
static void
conn_arm_idle(struct conn *c)
{
	struct timeval	tv = { td->conf.idle_timeout, 0 };

	if (c->state == CONN_READY || c->state == CONN_LISTING)
		event_add(c->ev_idle, &tv);
	else if (c->state == CONN_WAIT_LOOKUP) {
		/* Every look-up ends within lookup_timeout: a safety net. */
		tv.tv_sec += td->conf.lookup_timeout;
		event_add(c->ev_idle, &tv);
	} else
		event_del(c->ev_idle);
}

/* Read when there is room for it and the client reads its answers. */
static void
conn_update_read(struct conn *c)
{
	int	want;

	want = !c->closing && !c->blocked && c->ilen < conn_in_max();
	if (want && !c->reading)
		event_add(c->ev_read, NULL);
	else if (!want && c->reading)
		event_del(c->ev_read);
	c->reading = want;
}

struct conn *
conn_new(int fd, const struct peer *peer)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->peer = *peer;
	c->state = CONN_READY;
	wbuf_init(&c->out);
	c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->ev_write = event_new(base, fd, EV_WRITE, conn_write_cb, c);
	c->ev_idle = evtimer_new(base, conn_idle_cb, c);
	c->ev_kick = event_new(base, -1, 0, conn_kick_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL || c->ev_idle == NULL ||
	    c->ev_kick == NULL) {
		if (c->ev_read != NULL)
			event_free(c->ev_read);
		if (c->ev_write != NULL)
			event_free(c->ev_write);
		if (c->ev_idle != NULL)
			event_free(c->ev_idle);
		if (c->ev_kick != NULL)
			event_free(c->ev_kick);
		close(fd);
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	conn_update_read(c);
	conn_arm_idle(c);
	return c;
}

static void
conn_reaper_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c;

	(void)fd;
	(void)events;
	(void)arg;
	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		if (c->ibuf != NULL) {
			explicit_bzero(c->ibuf, c->icap);
			free(c->ibuf);
		}
		wbuf_free(&c->out);
		free(c);
	}
}

/* Drop the request under way, telling its owner. */
static void
conn_cancel(struct conn *c)
{
	void	(*cancel)(void *) = c->cancel;
	void	*ctx = c->ctx;

	c->cancel = NULL;
	c->resume = NULL;
	c->ctx = NULL;
	if (c->state != CONN_CLOSED)
		c->state = CONN_READY;
	if (cancel != NULL)
		cancel(ctx);
}

void
conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	conn_cancel(c);
	c->state = CONN_CLOSED;
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_idle);
	event_free(c->ev_kick);
	c->ev_read = c->ev_write = c->ev_idle = c->ev_kick = NULL;
	close(c->fd);
	c->fd = -1;
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	event_active(ev_reaper, EV_TIMEOUT, 1);
	if (td->stopping && nconns == 0)
		event_base_loopbreak(base);
}

void
conn_send(struct conn *c, struct wbuf *w)
{
	if (c->state == CONN_CLOSED) {
		wbuf_reset(w);
		return;
	}
	if (w->failed) {
		wbuf_reset(w);
		conn_error(c, PERR_INTERNAL, "reply too large");
		return;
	}
	wbuf_put(&c->out, w->data, w->len);
	wbuf_reset(w);
	if (!c->processing)
		event_add(c->ev_write, NULL);
}

const uint8_t *
conn_encode(struct conn *c, conn_encode_fn enc, void *arg, size_t *len)
{
	size_t	start = c->out.len;

	if (c->state == CONN_CLOSED || c->out.failed)
		return NULL;
	enc(&c->out, arg);
	if (c->out.failed) {
		/* Only memory runs out here: drop the part, say so. */
		c->out.failed = 0;
		c->out.len = start;
		conn_error(c, PERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (!c->processing)
		event_add(c->ev_write, NULL);
	*len = c->out.len - start;
	return c->out.data + start;
}

void
conn_error(struct conn *c, int code, const char *fmt, ...)
{
	char		msg[TOKEND_ERRMSG_MAX + 1];
	va_list		ap;

	if (c->state == CONN_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (code > 0 && code < 16)
		td->stats.errors[code]++;
	enc_error(&c->out, code, msg);
	if (!c->processing)
		event_add(c->ev_write, NULL);
}

void
conn_violation(struct conn *c, const char *what)
{
	if (c->state == CONN_CLOSED || c->closing)
		return;
	log_warnx("dropping uid %u pid %d: %s%s%s", (unsigned)c->peer.uid,
	    (int)c->peer.pid, what, c->state != CONN_READY ? " while " : "",
	    c->state != CONN_READY ? conn_state_name(c->state) : "");
	td->stats.conns_dropped++;
	conn_cancel(c);
	conn_error(c, PERR_MALFORMED, "%s", what);
	c->closing = 1;
	conn_update_read(c);
	conn_kick(c);
}

void
conn_wait(struct conn *c, enum conn_state state, void (*cancel)(void *),
    void *ctx)
{
	if (c->state == CONN_CLOSED) {
		if (cancel != NULL)
			cancel(ctx);
		return;
	}
	c->state = state;
	c->cancel = cancel;
	c->resume = NULL;
	c->ctx = ctx;
	conn_arm_idle(c);
}

void
conn_set_state(struct conn *c, enum conn_state state)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = state;
	conn_arm_idle(c);
}

void
conn_wait_drain(struct conn *c, void (*resume)(struct conn *, void *),
    void (*cancel)(void *), void *ctx)
{
	conn_wait(c, CONN_LISTING, cancel, ctx);
	if (c->state != CONN_LISTING)
		return;
	c->resume = resume;
	if (conn_output_full(c))
		td->stats.output_blocked++;
	else
		conn_kick(c);
}

void
conn_done(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	c->state = CONN_READY;
	c->cancel = NULL;
	c->resume = NULL;
	c->ctx = NULL;
	conn_arm_idle(c);
	conn_kick(c);
}

void
conn_wake_lookups(void)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->state == CONN_WAIT_LOOKUP) {
			c->state = CONN_READY;
			conn_arm_idle(c);
			conn_kick(c);
		}
}

static void
conn_kick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)events;
	if (c->state == CONN_LISTING) {
		if (!conn_output_full(c) && c->resume != NULL)
			c->resume(c, c->ctx);
		if (c->state != CONN_CLOSED)
			conn_flush(c);
		return;
	}
	conn_process(c);
}

/* Give back what a burst made the buffers grow to. */
static void
conn_shrink(struct conn *c)
{
	if (c->out.cap > CONN_OUT_LOW)
		wbuf_free(&c->out);
	else
		wbuf_reset(&c->out);
	c->out_off = 0;
	if (c->ilen == 0 && c->icap > IBUF_KEEP) {
		explicit_bzero(c->ibuf, c->icap);
		free(c->ibuf);
		c->ibuf = NULL;
		c->icap = 0;
	}
}

static void
conn_flush(struct conn *c)
{
	ssize_t	n;
	int	sent = 0;

	if (c->processing || c->state == CONN_CLOSED)
		return;		/* conn_process flushes when it is done */
	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			sent = 1;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		log_debug("uid %u pid %d: send: %s", (unsigned)c->peer.uid,
		    (int)c->peer.pid, strerror(errno));
		conn_close(c);
		return;
	}
	if (sent && (c->state == CONN_READY || c->state == CONN_LISTING))
		conn_arm_idle(c);	/* the client reads: it is not idle */
	if (c->out_off < c->out.len) {
		event_add(c->ev_write, NULL);
		if (conn_output_full(c)) {
			if (!c->blocked) {
				c->blocked = 1;
				td->stats.output_blocked++;
				conn_update_read(c);
			}
		} else if (sent && conn_pending(c) <= CONN_OUT_LOW &&
		    (c->blocked || c->state == CONN_LISTING)) {
			c->blocked = 0;
			conn_update_read(c);
			conn_kick(c);
		}
		return;
	}
	conn_shrink(c);
	if (c->closing && c->state == CONN_READY) {
		conn_close(c);
		return;
	}
	if (c->blocked) {
		c->blocked = 0;
		conn_kick(c);
	}
	if (c->state == CONN_LISTING)
		conn_kick(c);
	conn_update_read(c);
}

static void
conn_write_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	conn_flush(arg);
}

static void
conn_idle_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)events;
	log_debug("uid %u pid %d: idle for %u s, closing", (unsigned)c->peer.uid,
	    (int)c->peer.pid, td->conf.idle_timeout);
	if (c->ilen > 0 || conn_pending(c) > 0)
		td->stats.conns_dropped++;
	conn_close(c);
}

/* Make room for at least want bytes in ibuf (want <= conn_in_max()). */
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
	if (cap > conn_in_max())
		cap = conn_in_max();
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
	if (c->closing || c->blocked || c->ilen >= conn_in_max()) {
		conn_update_read(c);
		return;
	}
	if (c->ilen == c->icap &&
	    conn_reserve(c, c->icap ? c->icap * 2 : IBUF_MIN) == -1) {
		log_warnx("uid %u pid %d: out of memory", (unsigned)c->peer.uid,
		    (int)c->peer.pid);
		conn_close(c);
		return;
	}
	n = read(fd, c->ibuf + c->ilen, c->icap - c->ilen);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		if (c->ilen > 0)
			log_debug("uid %u pid %d: closed mid-frame (%zu bytes)",
			    (unsigned)c->peer.uid, (int)c->peer.pid, c->ilen);
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->ilen += (size_t)n;
	conn_process(c);
}

/* What the daemon accepts: request types within their bounds and max_frame. */
static int
conn_next(const struct conn *c, size_t pos, struct frame_hdr *hdr,
    const char **why)
{
	struct frame_rules	rules = {
		msgtype_is_request, msg_len_ok, td->conf.max_frame
	};

	return frame_next(c->ibuf + pos, c->ilen - pos, &rules, hdr, why);
}

/* Cut the frame at pos (need bytes) out of ibuf, wiping it. */
static void
conn_cut(struct conn *c, size_t pos, size_t need)
{
	explicit_bzero(c->ibuf + pos, need);
	memmove(c->ibuf + pos, c->ibuf + pos + need, c->ilen - pos - need);
	c->ilen -= need;
}

/*
 * While a request waits, look at what queued up behind it from pos on:
 * every header must be valid (a bad one drops the client now, not when
 * its turn comes), and during a PAM conversation each complete CONV_REPLY
 * is handed over at once, ahead of the frames before it, and the rest
 * must stay within conn_in_max().  -1 when c was dropped.
 */
static int
conn_scan_waiting(struct conn *c, size_t pos)
{
	struct frame_hdr	 hdr;
	const char		*bad;
	size_t			 need;
	int			 rc;

	while (c->state != CONN_CLOSED && !c->closing) {
		if ((rc = conn_next(c, pos, &hdr, &bad)) == FRAME_BAD) {
			conn_violation(c, bad);
			return -1;
		}
		if (rc == FRAME_INCOMPLETE)
			break;
		need = TOKEND_HDR_LEN + hdr.length;
		if (hdr.type == MSG_CONV_REPLY && c->state == CONN_IN_PAM) {
			td->stats.requests[hdr.type]++;
			ops.frame(c, hdr.type, c->ibuf + pos + TOKEND_HDR_LEN,
			    hdr.length);
			if (c->state == CONN_CLOSED)
				return -1;
			conn_cut(c, pos, need);
			continue;
		}
		pos += need;
	}
	/*
	 * A PAM conversation waits for a person, for minutes: what the client
	 * sends meanwhile must fit, or it is dropped.  Any other wait ends by
	 * itself soon: the connection is just not read from until then.
	 */
	if (c->state != CONN_CLOSED && !c->closing &&
	    c->ilen >= conn_in_max() && (c->state == CONN_ISSUE_QUEUED ||
	    c->state == CONN_IN_PAM || c->state == CONN_FAIL_DELAY)) {
		conn_violation(c, "too much sent while a PAM conversation waits");
		return -1;
	}
	return c->state == CONN_CLOSED ? -1 : 0;
}

/*
 * Answer the complete frames in ibuf, in order, until one has to wait,
 * the client's unread answers reach CONN_OUT_HIGH, or none is left.
 */
static void
conn_process(struct conn *c)
{
	struct frame_hdr	 hdr;
	const char		*bad;
	size_t			 pos = 0, need;
	int			 handled = 0, rc;

	if (c->processing || c->state == CONN_CLOSED)
		return;		/* the loop below picks up where it is */
	c->processing = 1;
	ops.batch_begin();
	while (c->state == CONN_READY && !c->closing && !c->blocked &&
	    c->ilen - pos >= TOKEND_HDR_LEN) {
		if (conn_output_full(c)) {
			c->blocked = 1;
			td->stats.output_blocked++;
			break;
		}
		if ((rc = conn_next(c, pos, &hdr, &bad)) == FRAME_BAD) {
			conn_violation(c, bad);
			break;
		}
		need = TOKEND_HDR_LEN + hdr.length;
		if (rc == FRAME_INCOMPLETE) {
			if (conn_reserve(c, need) == -1) {
				log_warnx("uid %u pid %d: out of memory",
				    (unsigned)c->peer.uid, (int)c->peer.pid);
				c->closing = 1;
			}
			break;
		}
		rc = ops.frame(c, hdr.type, c->ibuf + pos + TOKEND_HDR_LEN,
		    hdr.length);
		if (c->state == CONN_CLOSED)
			break;
		if (rc == CONN_FRAME_RETRY) {
			if (c->state == CONN_READY) {
				c->state = CONN_WAIT_LOOKUP;
				conn_arm_idle(c);
			}
			break;
		}
		td->stats.requests[hdr.type]++;
		explicit_bzero(c->ibuf + pos, need);
		pos += need;
		handled = 1;
	}
	ops.batch_end();
	c->processing = 0;
	if (c->state == CONN_CLOSED)
		return;
	if (pos > 0) {
		memmove(c->ibuf, c->ibuf + pos, c->ilen - pos);
		explicit_bzero(c->ibuf + c->ilen - pos, pos);
		c->ilen -= pos;
	}
	if (c->state != CONN_READY) {
		/* What waits behind the request under way (or the one retried). */
		need = 0;
		if (c->state == CONN_WAIT_LOOKUP &&
		    conn_next(c, 0, &hdr, &bad) == FRAME_COMPLETE)
			need = TOKEND_HDR_LEN + hdr.length;
		if (conn_scan_waiting(c, need) == -1)
			return;
	}
	if (handled)
		conn_arm_idle(c);
	conn_update_read(c);
	conn_flush(c);
}

/* SIGTERM: refuse new work, let queued answers go out, then the loop ends. */
void
conn_stop_all(void)
{
	struct conn	*c, *t;

	for (c = TAILQ_FIRST(&conns); c != NULL; c = t) {
		t = TAILQ_NEXT(c, entry);
		if (c->state != CONN_READY && c->state != CONN_WAIT_WRITE) {
			conn_cancel(c);
			conn_error(c, PERR_SHUTDOWN, "tokend is shutting down");
		}
		c->closing = 1;
		conn_update_read(c);
		conn_flush(c);
	}
	if (nconns == 0)
		event_base_loopbreak(base);
}
