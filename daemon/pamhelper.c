/* SPDX-License-Identifier: ISC */
/*
 * PAM for ISSUE, the engine's side (pamhelper.h): the queue of
 * transactions, the fair share of each caller, the timers and the relay
 * of the conversation.  The helpers themselves belong to the monitor: the
 * engine asks it to start one (MON_PAM_START), passes the client's
 * answers on and gets the prompts and the result back (monitor.h).  The
 * event loop never waits: each step has a timer, and a transaction that
 * takes too long is cancelled (the monitor kills its helper).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "daemon.h"
#include "duration.h"
#include "log.h"
#include "monitor.h"
#include "pamhelper.h"
#include "ratelimit.h"

/* One ISSUE's PAM transaction, from the queue to its answer. */
struct pamjob {
	TAILQ_ENTRY(pamjob)	 entry;		/* in queue or in active */
	struct conn		*c;
	uid_t			 caller;	/* the client's uid */
	uid_t			 uid;		/* the user PAM authenticates */
	struct msg_issue	*issue;
	int			 mode;		/* MON_PAM_MODE_* */
	char			 ruser[TOKEND_USER_MAX + 1];
	int			 queued;	/* waiting for a helper */
	uint32_t		 id;		/* the monitor knows it by this */
	int			 started;	/* its helper runs (the monitor's) */
	struct event		*ev_timer;	/* queue wait, PAM step, failure delay */
	int			 nprompts;	/* messages of the CONV awaiting a reply */
	int			 failed;	/* waiting out the failure delay */
};

TAILQ_HEAD(pamjobs, pamjob);

static struct pamjobs	 queue = TAILQ_HEAD_INITIALIZER(queue);
static struct pamjobs	 active = TAILQ_HEAD_INITIALIZER(active);
static unsigned		 nrunning;	/* helpers alive */
static unsigned		 nqueued;
static uint32_t		 last_id;
static pamhelper_ok_fn	 ok_fn;

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

/* What j is for, in the log. */
static const char *
job_what(const struct pamjob *j)
{
	switch (j->mode) {
	case MON_PAM_MODE_ENROLL:
		return "OTP enrolment";
	case MON_PAM_MODE_REMOVE:
		return "OTP removal";
	default:
		return "ISSUE";
	}
}

static void
job_arm(struct pamjob *j, unsigned msec)
{
	struct timeval	tv = { msec / 1000, (msec % 1000) * 1000 };

	event_add(j->ev_timer, &tv);
}

/* Stop j's helper, if it runs: the monitor kills it. */
static void
job_kill(struct pamjob *j)
{
	struct mon_msg	m = { .type = MON_PAM_CANCEL };
	struct wbuf	w;

	if (!j->started)
		return;
	j->started = 0;
	nrunning--;
	m.id = j->id;
	wbuf_init(&w);
	mon_encode(&w, &m);
	(void)engine_send(&w);
	wbuf_free(&w);
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

	log_debug("PAM transaction for %s cancelled (job %u)",
	    j->issue != NULL ? j->issue->user : "?", (unsigned)j->id);
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

int
pamhelper_limited(struct conn *c, const char *user, uid_t uid, int take)
{
	char	when[32];

	if (take ? ratelimit_take(RL_AUTH, uid) : ratelimit_allowed(RL_AUTH, uid))
		return 0;
	td->stats.rate_limited++;
	conn_error(c, PERR_RATE_LIMITED, "too many failed authentications for "
	    "%s; try again in %s", user, duration_format(ratelimit_wait(RL_AUTH,
	    uid), when, sizeof(when)));
	return 1;
}

/* Start j's helper.  0 when it runs; -1 when j ended with an error. */
static int
job_start(struct pamjob *j)
{
	struct mon_msg	m;
	struct wbuf	w;
	int		rc;

	if (pamhelper_limited(j->c, j->issue->user, j->uid, 1)) {
		job_end(j);
		return -1;
	}
	if (++last_id == 0)
		last_id = 1;
	j->id = last_id;
	memset(&m, 0, sizeof(m));
	m.type = MON_PAM_START;
	m.id = j->id;
	m.uid = (uint32_t)j->caller;
	memcpy(m.user, j->issue->user, sizeof(m.user));
	memcpy(m.ruser, j->ruser, sizeof(m.ruser));
	m.flag = (uint8_t)j->mode;
	wbuf_init(&w);
	mon_encode(&w, &m);
	rc = engine_send(&w);
	wbuf_free(&w);
	if (rc == -1) {
		/* Not the user's doing: the failure does not count against them. */
		ratelimit_refund(RL_AUTH, j->uid);
		conn_error(j->c, PERR_INTERNAL, "cannot start authentication");
		job_end(j);
		return -1;
	}
	j->started = 1;
	nrunning++;
	job_arm(j, td->conf.pam_timeout * 1000);
	conn_set_state(j->c, CONN_IN_PAM);
	log_debug("PAM job %u started for %s, caller uid %u", (unsigned)j->id,
	    j->issue->user, (unsigned)j->caller);
	return 0;
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
    const char *ruser, int mode)
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
	j->mode = mode;
	snprintf(j->ruser, sizeof(j->ruser), "%s", ruser);
	j->queued = 1;
	TAILQ_INSERT_TAIL(&queue, j, entry);
	nqueued++;
	conn_wait(c, CONN_ISSUE_QUEUED, job_cancel_cb, j);
	job_arm(j, td->conf.pam_timeout * 1000);
	log_debug("%s for %s, caller uid %u: %u helpers running, %u waiting",
	    job_what(j), m->user, (unsigned)caller, nrunning, nqueued);
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
	struct mon_msg		 mm;
	struct wbuf		 w;
	int			 ok;

	if (j == NULL || !j->started || j->nprompts == 0) {
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
	memset(&mm, 0, sizeof(mm));
	mm.type = MON_PAM_REPLY;
	mm.id = j->id;
	mm.reply = body;
	mm.reply_len = len;
	wbuf_init(&w);
	mon_encode(&w, &mm);
	ok = engine_send(&w) == 0;
	wbuf_free(&w);		/* wipes the answers */
	if (!ok) {
		conn_error(c, PERR_INTERNAL, "authentication helper failed");
		job_end(j);
		return;
	}
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
	int			 mode = j->mode;

	log_info("authenticated %s through PAM for %s (caller uid %u)",
	    m->user, job_what(j), (unsigned)j->caller);
	ratelimit_refund(RL_AUTH, uid);
	j->issue = NULL;
	conn_wait(c, CONN_IN_PAM, NULL, NULL);	/* c no longer refers to j */
	job_free(j);
	ok_fn(c, m, uid, mode);
	issue_free(m);
	pamhelper_next();
}

static struct pamjob *
job_by_id(uint32_t id)
{
	struct pamjob	*j;

	TAILQ_FOREACH(j, &active, entry)
		if (j->started && j->id == id)
			return j;
	return NULL;
}

/* A prompt from j's helper, through the monitor: on to the client. */
static void
job_conv(struct pamjob *j, const uint8_t *body, size_t len)
{
	struct msg_conv	*m = NULL;
	struct wbuf	 w;
	size_t		 off;
	int		 i;

	if (j->nprompts != 0 || (m = calloc(1, sizeof(*m))) == NULL)
		goto bad;
	if (dec_conv(body, len, m) == -1)
		goto bad;
	/* A secret to show comes only in an enrolment. */
	for (i = 0; i < m->n; i++)
		if (m->style[i] == CONV_SECRET && j->mode != MON_PAM_MODE_ENROLL)
			goto bad;
	j->nprompts = m->n;
	explicit_bzero(m, sizeof(*m));
	free(m);
	wbuf_init(&w);
	off = frame_begin(&w, MSG_CONV);
	wbuf_put(&w, body, len);
	frame_end(&w, off);
	conn_send(j->c, &w);
	wbuf_free(&w);
	job_arm(j, td->conf.pam_timeout * 1000);
	return;
bad:
	if (m != NULL) {
		explicit_bzero(m, sizeof(*m));
		free(m);
	}
	conn_error(j->c, PERR_INTERNAL, "bad message from the authentication "
	    "helper");
	job_end(j);
}

void
pamhelper_message(int type, const uint8_t *body, size_t len)
{
	struct pamjob	*j;
	struct rbuf	 r;
	char		 why[TOKEND_ERRMSG_MAX + 1];
	uint32_t	 id, uid;
	int		 result;

	rbuf_init(&r, body, len);
	id = rbuf_u32(&r);
	if (r.failed)
		fatalx("the monitor sent a malformed %s", channel_type_name(type));
	/* A job cancelled meanwhile: its last words do not matter. */
	if ((j = job_by_id(id)) == NULL)
		return;
	if (type == MON_PAM_CONV) {
		job_conv(j, r.p, r.left);
		return;
	}
	result = rbuf_u8(&r);
	uid = rbuf_u32(&r);
	rbuf_str(&r, why, sizeof(why));
	if (rbuf_done(&r) == -1)
		fatalx("the monitor sent a malformed %s", channel_type_name(type));
	j->started = 0;		/* the monitor is done with its helper */
	nrunning--;
	switch (result) {
	case MON_PAM_OK:
		if (uid != j->uid) {
			log_warnx("%s authenticated, but the name is uid %u now, "
			    "not %u", j->issue->user, (unsigned)uid,
			    (unsigned)j->uid);
			job_failed(j, "the user's uid changed");
		} else
			job_succeeded(j);
		return;
	case MON_PAM_FAILED:
		job_failed(j, why);
		return;
	case MON_PAM_ENDED:
		log_warnx("PAM helper for %s ended without an answer",
		    j->issue->user);
		/* A PAM module crashed or exited: nobody was authenticated. */
		td->stats.pam_failures++;
		conn_error(j->c, PERR_AUTH, "authentication failed: the PAM "
		    "stack ended without an answer");
		job_end(j);
		return;
	case MON_PAM_AFTER:
		/*
		 * The user proved who they are; a code typed wrong three
		 * times or a full disk is no guess at a password.
		 */
		ratelimit_refund(RL_AUTH, j->uid);
		log_notice("%s for %s (caller uid %u) failed: %s", job_what(j),
		    j->issue->user, (unsigned)j->caller, why);
		conn_error(j->c, uid >= PERR_MALFORMED && uid <= PERR_UNAVAILABLE ?
		    (int)uid : PERR_INTERNAL, "%s", why);
		job_end(j);
		return;
	case MON_PAM_REFUSED:
		/* Nothing to authenticate for (no enrolment to remove). */
		ratelimit_refund(RL_AUTH, j->uid);
		conn_error(j->c, PERR_NOT_FOUND, "%s is %s", j->issue->user, why);
		job_end(j);
		return;
	default:
		ratelimit_refund(RL_AUTH, j->uid);
		conn_error(j->c, PERR_INTERNAL, "cannot start authentication");
		job_end(j);
		return;
	}
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
		log_warnx("%s for %s (caller uid %u) found no free PAM helper "
		    "within %u s", job_what(j), j->issue->user, (unsigned)j->caller,
		    td->conf.pam_timeout);
		conn_error(j->c, PERR_BUSY, "no authentication helper became "
		    "free within %u seconds; try again later",
		    td->conf.pam_timeout);
		job_end(j);
		return;
	}
	log_warnx("PAM conversation for %s timed out after %u s (caller uid %u);"
	    " its helper is stopped", j->issue->user, td->conf.pam_timeout,
	    (unsigned)j->caller);
	td->stats.pam_timeouts++;
	conn_error(j->c, PERR_TIMEOUT, "authentication timed out after %u "
	    "seconds", td->conf.pam_timeout);
	job_end(j);
}
