/*
 * PAM for ISSUE, daemon side (pamhelper.h): the queue of transactions,
 * the helper processes, the relay of their conversation and the timers.
 * The event loop never waits: each step has a timer, and a helper that
 * hangs or dies is killed, reaped and reported.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "pamhelper.h"
#include "ratelimit.h"
#include "helper.h"

#define HELPER_BUF	(TOKEND_HDR_LEN + TOKEND_FRAME_MAX)

/* One ISSUE's PAM transaction, from the queue to its answer. */
struct pamjob {
	TAILQ_ENTRY(pamjob)	 entry;		/* in queue or in active */
	struct conn		*c;
	uid_t			 caller;	/* the client's uid */
	uid_t			 uid;		/* the user PAM authenticates */
	struct msg_issue	*issue;
	char			 ruser[TOKEND_USER_MAX + 1];
	int			 queued;	/* waiting for a helper */
	pid_t			 pid;		/* > 0 while the helper runs */
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_timer;	/* queue wait, PAM step, failure delay */
	int			 nprompts;	/* messages of the CONV awaiting a reply */
	int			 failed;	/* waiting out the failure delay */
};

TAILQ_HEAD(pamjobs, pamjob);

static struct pamjobs	 queue = TAILQ_HEAD_INITIALIZER(queue);
static struct pamjobs	 active = TAILQ_HEAD_INITIALIZER(active);
static unsigned		 nrunning;	/* helpers alive */
static unsigned		 nqueued;
static pamhelper_ok_fn	 ok_fn;

static void	pamhelper_read_cb(evutil_socket_t, short, void *);
static void	pamhelper_timer_cb(evutil_socket_t, short, void *);
static void	pamhelper_next(void);

void
pamhelper_init(pamhelper_ok_fn fn)
{
	ok_fn = fn;
}

unsigned
pamhelper_running(void)
{
	return nrunning;
}

unsigned
pamhelper_queued(void)
{
	return nqueued;
}

/* The ISSUE request holds the user's chosen name and scopes: wipe it. */
static void
issue_free(struct msg_issue *m)
{
	if (m == NULL)
		return;
	explicit_bzero(m, sizeof(*m));
	free(m);
}

static void
job_arm(struct pamjob *j, unsigned msec)
{
	struct timeval	tv = { msec / 1000, (msec % 1000) * 1000 };

	event_add(j->ev_timer, &tv);
}

/* Stop j's helper, if it runs. */
static void
job_kill(struct pamjob *j)
{
	if (j->pid > 0) {
		kill(j->pid, SIGKILL);	/* reaped by the SIGCHLD handler */
		j->pid = 0;
		nrunning--;
	}
	if (j->ev_read != NULL) {
		event_free(j->ev_read);
		j->ev_read = NULL;
	}
	if (j->fd != -1) {
		close(j->fd);
		j->fd = -1;
	}
}

static void
job_free(struct pamjob *j)
{
	job_kill(j);
	if (j->queued) {
		TAILQ_REMOVE(&queue, j, entry);
		nqueued--;
	} else
		TAILQ_REMOVE(&active, j, entry);
	if (j->ev_timer != NULL)
		event_free(j->ev_timer);
	issue_free(j->issue);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* The answer to the ISSUE is queued on its connection: j is over. */
static void
job_end(struct pamjob *j)
{
	struct conn	*c = j->c;

	job_free(j);
	conn_done(c);
	pamhelper_next();
}

/* The connection went away, broke the protocol, or the daemon stops. */
static void
job_cancel_cb(void *arg)
{
	struct pamjob	*j = arg;

	log_debug("PAM transaction for %s cancelled (helper %d)",
	    j->issue != NULL ? j->issue->user : "?", (int)j->pid);
	job_free(j);
	pamhelper_next();
}

/* Helpers of caller, counting those waiting out a failure delay. */
static unsigned
running_of(uid_t caller)
{
	struct pamjob	*j;
	unsigned	 n = 0;

	TAILQ_FOREACH(j, &active, entry)
		if (j->caller == caller)
			n++;
	return n;
}

static unsigned
queued_of(uid_t caller)
{
	struct pamjob	*j;
	unsigned	 n = 0;

	TAILQ_FOREACH(j, &queue, entry)
		if (j->caller == caller)
			n++;
	return n;
}

static int
slot_free(void)
{
	if (td->conf.pam_serialize)
		return nrunning == 0;
	return nrunning < td->conf.max_pam_helpers;
}

/* Root is trusted; everybody else gets a fair share of the helpers. */
static int
caller_may_start(uid_t caller)
{
	return caller == 0 || running_of(caller) < td->conf.max_pam_per_uid;
}

/* Start j's helper.  0 when it runs; -1 when j ended with an error. */
static int
job_start(struct pamjob *j)
{
	char	 name[] = "tokend-pam-helper", flag[] = "--pam-helper";
	char	*argv[] = { name, flag, td->conf.pam_service,
		    td->conf.pam_confdir, j->issue->user, j->ruser, NULL };
	int	 sv[2];

	if (!ratelimit_take(RL_AUTH, j->uid)) {
		td->stats.rate_limited++;
		conn_error(j->c, PERR_RATE_LIMITED, "too many failed "
		    "authentications for %s; try again later", j->issue->user);
		job_end(j);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		goto fail;
	}
	if ((j->pid = helper_spawn(sv[1], argv, PAMHELPER_NICE)) == -1) {
		log_warn("cannot start a PAM helper (%s)", helper_path());
		j->pid = 0;
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	close(sv[1]);
	nrunning++;
	j->fd = sv[0];
	fcntl(j->fd, F_SETFL, fcntl(j->fd, F_GETFL) | O_NONBLOCK);
	j->ev_read = event_new(td->base, j->fd, EV_READ | EV_PERSIST,
	    pamhelper_read_cb, j);
	if (j->ev_read == NULL || event_add(j->ev_read, NULL) == -1)
		goto fail;
	job_arm(j, td->conf.pam_timeout * 1000);
	conn_set_state(j->c, CONN_IN_PAM);
	log_debug("PAM helper %d started for %s, caller uid %u",
	    (int)j->pid, j->issue->user, (unsigned)j->caller);
	return 0;
fail:
	/* Not the user's doing: the failure does not count against them. */
	ratelimit_refund(RL_AUTH, j->uid);
	conn_error(j->c, PERR_INTERNAL, "cannot start authentication");
	job_end(j);
	return -1;
}

/*
 * Start what waits, oldest first, skipping callers at their share.  A
 * start can end its job at once, which calls this again: that inner call
 * only asks the outer one for another round.
 */
static void
pamhelper_next(void)
{
	static int	 busy, again;
	struct pamjob	*j, *t;

	if (busy) {
		again = 1;
		return;
	}
	busy = 1;
	do {
		again = 0;
		for (j = TAILQ_FIRST(&queue); j != NULL && !td->stopping &&
		    slot_free(); j = t) {
			t = TAILQ_NEXT(j, entry);
			if (!caller_may_start(j->caller))
				continue;
			TAILQ_REMOVE(&queue, j, entry);
			nqueued--;
			j->queued = 0;
			TAILQ_INSERT_TAIL(&active, j, entry);
			event_del(j->ev_timer);
			job_start(j);
			t = TAILQ_FIRST(&queue);	/* it may have changed */
		}
	} while (again);
	busy = 0;
}

int
pamhelper_request(struct conn *c, struct msg_issue *m, uid_t uid,
    const char *ruser)
{
	struct pamjob	*j;
	uid_t		 caller = conn_peer(c)->uid;

	/*
	 * It would wait (what waits now is there for want of a slot or of
	 * its caller's share): a caller may have only so many waiting.
	 */
	if (caller != 0 && !(slot_free() && caller_may_start(caller)) &&
	    queued_of(caller) >= td->conf.max_pam_queued_per_uid) {
		conn_error(c, PERR_BUSY, "too many authentications under way "
		    "for uid %u; finish one first", (unsigned)caller);
		issue_free(m);
		return -1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->ev_timer = evtimer_new(td->base, pamhelper_timer_cb, j)) ==
	    NULL) {
		free(j);
		conn_error(c, PERR_INTERNAL, "out of memory");
		issue_free(m);
		return -1;
	}
	j->c = c;
	j->caller = caller;
	j->uid = uid;
	j->issue = m;
	j->fd = -1;
	snprintf(j->ruser, sizeof(j->ruser), "%s", ruser);
	j->queued = 1;
	TAILQ_INSERT_TAIL(&queue, j, entry);
	nqueued++;
	conn_wait(c, CONN_ISSUE_QUEUED, job_cancel_cb, j);
	job_arm(j, td->conf.pam_timeout * 1000);
	log_debug("ISSUE for %s, caller uid %u: %u helpers running, %u waiting",
	    m->user, (unsigned)caller, nrunning, nqueued);
	/* j may end in here (a helper that cannot start): not used after. */
	pamhelper_next();
	return 0;
}

static struct pamjob *
job_of(const struct conn *c)
{
	struct pamjob	*j;

	TAILQ_FOREACH(j, &active, entry)
		if (j->c == c)
			return j;
	return NULL;
}

void
pamhelper_reply(struct conn *c, const uint8_t *body, size_t len)
{
	struct pamjob		*j = job_of(c);
	struct msg_conv_reply	*r;
	struct wbuf		 w;
	size_t			 off;
	int			 ok;

	if (j == NULL || j->pid == 0 || j->nprompts == 0) {
		conn_violation(c, "CONV_REPLY without a prompt");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		job_end(j);
		return;
	}
	ok = dec_conv_reply(body, len, r) == 0 && r->n == j->nprompts;
	explicit_bzero(r, sizeof(*r));
	free(r);
	if (!ok) {
		conn_violation(c, "CONV_REPLY does not match the prompt");
		return;
	}
	wbuf_init(&w);
	off = frame_begin(&w, MSG_CONV_REPLY);
	wbuf_put(&w, body, len);
	frame_end(&w, off);
	if (w.failed || send(j->fd, w.data, w.len, MSG_NOSIGNAL) == -1) {
		wbuf_free(&w);
		conn_error(c, PERR_INTERNAL, "authentication helper failed");
		job_end(j);
		return;
	}
	wbuf_free(&w);
	j->nprompts = 0;
	job_arm(j, td->conf.pam_timeout * 1000);
}

/* A failure is reported only after the delay, so guessing stays slow. */
static void
job_failed(struct pamjob *j, const char *why)
{
	log_notice("authentication failed for %s (caller uid %u): %s",
	    j->issue->user, (unsigned)j->caller, why);
	td->stats.pam_failures++;
	job_kill(j);
	j->failed = 1;
	conn_set_state(j->c, CONN_FAIL_DELAY);
	job_arm(j, td->conf.fail_delay_ms);
	pamhelper_next();
}

/* PAM said yes: the dispatcher takes the request over. */
static void
job_succeeded(struct pamjob *j)
{
	struct conn		*c = j->c;
	struct msg_issue	*m = j->issue;
	uid_t			 uid = j->uid;

	log_info("authenticated %s through PAM (caller uid %u)", m->user,
	    (unsigned)j->caller);
	ratelimit_refund(RL_AUTH, uid);
	j->issue = NULL;
	conn_wait(c, CONN_IN_PAM, NULL, NULL);	/* c no longer refers to j */
	job_free(j);
	ok_fn(c, m, uid);
	issue_free(m);
	pamhelper_next();
}

static void
pamhelper_read_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint8_t		 buf[HELPER_BUF];
	struct pamjob		*j = arg;
	struct frame_hdr	 hdr;
	struct msg_conv		*m;
	struct rbuf		 r;
	struct wbuf		 w;
	char			 why[TOKEND_ERRMSG_MAX + 1];
	ssize_t			 len;
	int			 ok;

	(void)events;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
	    (size_t)len != TOKEND_HDR_LEN + hdr.length) {
		log_warnx("PAM helper %d for %s ended without an answer",
		    (int)j->pid, j->issue->user);
		/* A PAM module crashed or exited: nobody was authenticated. */
		td->stats.pam_failures++;
		conn_error(j->c, PERR_AUTH, "authentication failed: the PAM "
		    "stack ended without an answer");
		job_end(j);
		return;
	}
	if (hdr.type == MSG_CONV && j->nprompts == 0) {
		if ((m = calloc(1, sizeof(*m))) == NULL ||
		    dec_conv(buf + TOKEND_HDR_LEN, hdr.length, m) == -1) {
			free(m);
			conn_error(j->c, PERR_INTERNAL, "bad message from the "
			    "authentication helper");
			job_end(j);
			return;
		}
		j->nprompts = m->n;
		free(m);
		wbuf_init(&w);
		wbuf_put(&w, buf, (size_t)len);
		explicit_bzero(buf, (size_t)len);
		conn_send(j->c, &w);
		wbuf_free(&w);
		job_arm(j, td->conf.pam_timeout * 1000);
		return;
	}
	if (hdr.type != PAMHELPER_MSG_RESULT) {
		conn_error(j->c, PERR_INTERNAL, "bad message from the "
		    "authentication helper");
		job_end(j);
		return;
	}
	rbuf_init(&r, buf + TOKEND_HDR_LEN, hdr.length);
	ok = rbuf_u8(&r);
	rbuf_str(&r, why, sizeof(why));
	if (rbuf_done(&r) == -1)
		ok = 0;
	if (ok)
		job_succeeded(j);
	else
		job_failed(j, why);
}

static void
pamhelper_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pamjob	*j = arg;

	(void)fd;
	(void)events;
	if (j->failed) {
		conn_error(j->c, PERR_AUTH, "authentication failed");
		job_end(j);
		return;
	}
	if (j->queued) {
		log_warnx("ISSUE for %s (caller uid %u) found no free PAM helper "
		    "within %u s", j->issue->user, (unsigned)j->caller,
		    td->conf.pam_timeout);
		conn_error(j->c, PERR_BUSY, "no authentication helper became "
		    "free within %u seconds; try again later",
		    td->conf.pam_timeout);
		job_end(j);
		return;
	}
	log_warnx("PAM conversation for %s timed out after %u s (caller uid %u);"
	    " helper %d killed", j->issue->user, td->conf.pam_timeout,
	    (unsigned)j->caller, (int)j->pid);
	td->stats.pam_timeouts++;
	conn_error(j->c, PERR_TIMEOUT, "authentication timed out after %u "
	    "seconds", td->conf.pam_timeout);
	job_end(j);
}
