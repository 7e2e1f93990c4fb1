/* SPDX-License-Identifier: ISC */
/*
 * OTP status and an admin's removal, the engine's side: the files are
 * root's (otp_dir, 0700), so the engine asks the monitor (MON_OTP_ASK)
 * and answers the client when MON_OTP_ANSWER comes.  At most
 * OTPASK_MAX questions are out at once, so a client flooding OTP requests
 * cannot grow the channel's queue.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "monitor.h"
#include "otpask.h"

struct otpask {
	TAILQ_ENTRY(otpask)	 entry;
	struct conn		*c;		/* NULL: the client went away */
	uint32_t		 id;
	int			 op;
	char			 user[TOKEND_USER_MAX + 1];
	uid_t			 caller;
};

static TAILQ_HEAD(, otpask)	asks = TAILQ_HEAD_INITIALIZER(asks);
static unsigned			nasks;
static uint32_t			last_id;

/* The connection closed: its answer, when it comes, goes nowhere. */
static void
otpask_cancel_cb(void *arg)
{
	struct otpask	*a = arg;

	a->c = NULL;
}

int
otpask_request(struct conn *c, int op, const char *user)
{
	struct otpask	*a;
	struct mon_msg	 m;
	struct wbuf	 w;
	int		 rc;

	if (nasks >= OTPASK_MAX) {
		conn_error(c, PERR_BUSY, "too many one-time-code requests "
		    "under way; try again");
		return -1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		return -1;
	}
	if (++last_id == 0)
		last_id = 1;
	a->id = last_id;
	a->c = c;
	a->op = op;
	a->caller = conn_peer(c)->uid;
	snprintf(a->user, sizeof(a->user), "%s", user);
	memset(&m, 0, sizeof(m));
	m.type = MON_OTP_ASK;
	m.id = a->id;
	m.flag = (uint8_t)op;
	snprintf(m.user, sizeof(m.user), "%s", user);
	wbuf_init(&w);
	mon_encode(&w, &m);
	rc = engine_send(&w);
	wbuf_free(&w);
	if (rc == -1) {
		free(a);
		conn_error(c, PERR_INTERNAL, "tokend is stopping");
		return -1;
	}
	TAILQ_INSERT_TAIL(&asks, a, entry);
	nasks++;
	conn_wait(c, CONN_WAIT_MONITOR, otpask_cancel_cb, a);
	return 0;
}

void
otpask_message(const uint8_t *body, size_t len)
{
	struct otpask		*a;
	struct msg_otp_result	 out;
	struct rbuf		 r;
	struct wbuf		 w;
	char			 why[TOKEND_ERRMSG_MAX + 1];
	uint32_t		 id;
	int64_t			 since;
	int			 result;

	rbuf_init(&r, body, len);
	id = rbuf_u32(&r);
	result = rbuf_u8(&r);
	since = (int64_t)rbuf_u64(&r);
	rbuf_str(&r, why, sizeof(why));
	if (rbuf_done(&r) == -1 || result > MON_OTP_ERROR)
		fatalx("the monitor sent a malformed OTP_ANSWER");
	TAILQ_FOREACH(a, &asks, entry)
		if (a->id == id)
			break;
	if (a == NULL)
		fatalx("the monitor answered an OTP question never asked");
	TAILQ_REMOVE(&asks, a, entry);
	nasks--;
	if (a->op == OTP_REMOVE && result == MON_OTP_YES)
		log_notice("one-time-code enrolment of %s removed by an admin "
		    "(uid %u)", a->user, (unsigned)a->caller);
	if (a->c == NULL) {
		free(a);
		return;
	}
	if (result == MON_OTP_ERROR)
		conn_error(a->c, PERR_INTERNAL, "cannot %s the enrolment of "
		    "%s; see the daemon's log", a->op == OTP_REMOVE ?
		    "remove" : "read", a->user);
	else if (a->op == OTP_REMOVE && result == MON_OTP_NONE)
		conn_error(a->c, PERR_NOT_FOUND, "%s is not enrolled for "
		    "one-time codes", a->user);
	else {
		memset(&out, 0, sizeof(out));
		out.enrolled = a->op == OTP_STATUS && result == MON_OTP_YES;
		out.since = out.enrolled ? since : 0;
		wbuf_init(&w);
		enc_otp_result(&w, &out);
		conn_send(a->c, &w);
		wbuf_free(&w);
	}
	conn_done(a->c);
	free(a);
}
