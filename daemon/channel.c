/* SPDX-License-Identifier: ISC */
/*
 * The channel between the monitor and the engine (monitor.h): sending and
 * receiving one message, and what each side accepts.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "account.h"
#include "monitor.h"

/* Per type: the smallest and the largest body. */
struct chan_bound {
	int	type;
	size_t	min;
	size_t	max;
};

#define CONF_MSG	(4 + sizeof(struct config))

static const struct chan_bound to_engine[] = {
	{ MON_INIT,		CONF_MSG + 2 + 4 + 4 + 5 + 5 + 8 + 4,
				CONF_MSG + 2 + 4 + 4 + 5 + 5 + 8 + 4 },
	{ MON_KEY,		MON_KEY_BYTES,	MON_KEY_BYTES },
	{ MON_CONFIG,		CONF_MSG + 10,	CONF_MSG + 10 },
	{ MON_PAM_CONV,		4 + 1,		4 + TOKEND_FRAME_MAX - 8 },
	{ MON_PAM_RESULT,	4 + 1 + 4 + 2,	4 + 1 + 4 + 2 + TOKEND_ERRMSG_MAX },
	{ MON_ACCT_ANSWER,	1 + 1 + 4 + 2 + 2,
				1 + 1 + 4 + 2 + TOKEND_USER_MAX + 2 + TOKEND_ERRMSG_MAX },
	{ MON_ACCT_LOST,	0,		0 },
	{ MON_STOP,		0,		0 },
	{ MON_OTP_ANSWER,	4 + 1 + 8 + 2,	4 + 1 + 8 + 2 + TOKEND_ERRMSG_MAX },
	{ MON_FLEET,		0,		0 },
};

static const struct chan_bound to_monitor[] = {
	{ MON_KEY_WANTED,	1,		1 },
	{ MON_READY,		0,		0 },
	{ MON_PAM_START,	4 + 4 + 2 + 2 + 1,
				4 + 4 + 2 + TOKEND_USER_MAX + 2 + TOKEND_USER_MAX + 1 },
	{ MON_PAM_REPLY,	4 + 1,		4 + TOKEND_FRAME_MAX - 8 },
	{ MON_PAM_CANCEL,	4,		4 },
	{ MON_ACCT_ASK,		1 + 4 + 2,	1 + 4 + 2 + TOKEND_USER_MAX },
	{ MON_ACCT_RESET,	0,		0 },
	{ MON_LOG,		1 + 2,		1 + 2 + MON_LOG_MAX },
	{ MON_OTP_ASK,		4 + 1 + 2,	4 + 1 + 2 + TOKEND_USER_MAX },
};

static const struct chan_bound *
bound_of(const struct chan_bound *t, size_t n, int type)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (t[i].type == type)
			return &t[i];
	return NULL;
}

#define NBOUNDS(t)	(sizeof(t) / sizeof((t)[0]))

static int
engine_type_ok(int type)
{
	return bound_of(to_engine, NBOUNDS(to_engine), type) != NULL;
}

static int
engine_len_ok(int type, size_t len)
{
	const struct chan_bound	*b = bound_of(to_engine, NBOUNDS(to_engine),
				    type);

	return b != NULL && len >= b->min && len <= b->max;
}

static int
monitor_type_ok(int type)
{
	return bound_of(to_monitor, NBOUNDS(to_monitor), type) != NULL;
}

static int
monitor_len_ok(int type, size_t len)
{
	const struct chan_bound	*b = bound_of(to_monitor, NBOUNDS(to_monitor),
				    type);

	return b != NULL && len >= b->min && len <= b->max;
}

const struct frame_rules channel_to_engine = {
	engine_type_ok, engine_len_ok, TOKEND_FRAME_MAX
};
const struct frame_rules channel_to_monitor = {
	monitor_type_ok, monitor_len_ok, TOKEND_FRAME_MAX
};

const char *
channel_type_name(int type)
{
	switch (type) {
	case MON_INIT:		return "INIT";
	case MON_KEY:		return "KEY";
	case MON_CONFIG:	return "CONFIG";
	case MON_PAM_CONV:	return "PAM_CONV";
	case MON_PAM_RESULT:	return "PAM_RESULT";
	case MON_ACCT_ANSWER:	return "ACCT_ANSWER";
	case MON_ACCT_LOST:	return "ACCT_LOST";
	case MON_STOP:		return "STOP";
	case MON_OTP_ANSWER:	return "OTP_ANSWER";
	case MON_FLEET:		return "FLEET";
	case MON_OTP_ASK:	return "OTP_ASK";
	case MON_KEY_WANTED:	return "KEY_WANTED";
	case MON_READY:		return "READY";
	case MON_PAM_START:	return "PAM_START";
	case MON_PAM_REPLY:	return "PAM_REPLY";
	case MON_PAM_CANCEL:	return "PAM_CANCEL";
	case MON_ACCT_ASK:	return "ACCT_ASK";
	case MON_ACCT_RESET:	return "ACCT_RESET";
	case MON_LOG:		return "LOG";
	}
	return "?";
}

int
channel_send(int sock, const struct wbuf *w, int fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;

	if (w->failed)
		return -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = w->data;
	iov.iov_len = w->len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)w->len ? 0 : -1;
}

int
channel_check(const uint8_t *msg, size_t n, const struct frame_rules *rules,
    struct frame_hdr *hdr, const char **why)
{
	*why = NULL;
	if (frame_next(msg, n, rules, hdr, why) != FRAME_COMPLETE ||
	    n != TOKEND_HDR_LEN + hdr->length) {
		if (*why == NULL)
			*why = "message shorter or longer than its frame";
		return -1;
	}
	return 0;
}

int
channel_recv(int sock, uint8_t *buf, const struct frame_rules *rules,
    struct frame_hdr *hdr, const uint8_t **body, int *fd, const char **why)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;

	*fd = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = MON_MSG_MAX;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do
		n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && *fd == -1)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		*why = "message too large";
		goto bad;
	}
	if (channel_check(buf, (size_t)n, rules, hdr, why) == -1)
		goto bad;
	*body = buf + TOKEND_HDR_LEN;
	return 1;
bad:
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
	return -2;
}

/* ---- engine -> monitor messages ---- */

int
mon_user_ok(const char *s)
{
	if (*s == '\0' || *s == '-' || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ':' ||
		    *s == '/')
			return 0;
	return 1;
}

static int
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* The answers are secrets: decoded on the heap, wiped, only to check them. */
static int
reply_ok(const uint8_t *body, size_t len)
{
	struct msg_conv_reply	*r;
	int			 ok;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 0;
	ok = dec_conv_reply(body, len, r) == 0 && r->n > 0;
	explicit_bzero(r, sizeof(*r));
	free(r);
	return ok;
}

int
mon_decode(uint8_t type, const uint8_t *body, size_t len, struct mon_msg *m,
    const char **why)
{
	struct rbuf	r;

	memset(m, 0, sizeof(*m));
	m->type = type;
	*why = "malformed";
	rbuf_init(&r, body, len);
	switch (type) {
	case MON_KEY_WANTED:
		m->flag = rbuf_u8(&r);
		if (rbuf_done(&r) == -1 || m->flag > 1)
			return -1;
		return 0;
	case MON_READY:
	case MON_ACCT_RESET:
		return rbuf_done(&r);
	case MON_LOG:
		m->flag = rbuf_u8(&r);
		rbuf_str(&r, m->text, sizeof(m->text));
		if (rbuf_done(&r) == -1 || m->flag > LOG_DEBUG ||
		    !text_ok(m->text))
			return -1;
		return 0;
	case MON_PAM_START:
		m->id = rbuf_u32(&r);
		m->uid = rbuf_u32(&r);
		rbuf_str(&r, m->user, sizeof(m->user));
		rbuf_str(&r, m->ruser, sizeof(m->ruser));
		m->flag = rbuf_u8(&r);
		if (rbuf_done(&r) == -1 || !mon_user_ok(m->user) ||
		    (m->ruser[0] != '\0' && !mon_user_ok(m->ruser)) ||
		    m->flag > MON_PAM_MODE_REMOVE)
			return -1;
		return 0;
	case MON_OTP_ASK:
		m->id = rbuf_u32(&r);
		m->flag = rbuf_u8(&r);
		rbuf_str(&r, m->user, sizeof(m->user));
		if (rbuf_done(&r) == -1 || !mon_user_ok(m->user) ||
		    (m->flag != OTP_STATUS && m->flag != OTP_REMOVE))
			return -1;
		return 0;
	case MON_PAM_REPLY:
		m->id = rbuf_u32(&r);
		if (r.failed || !reply_ok(r.p, r.left))
			return -1;
		m->reply = r.p;
		m->reply_len = r.left;
		return 0;
	case MON_PAM_CANCEL:
		m->id = rbuf_u32(&r);
		return rbuf_done(&r);
	case MON_ACCT_ASK:
		m->flag = rbuf_u8(&r);
		m->uid = rbuf_u32(&r);
		rbuf_str(&r, m->user, sizeof(m->user));
		if (rbuf_done(&r) == -1)
			return -1;
		if (m->flag == ACCOUNT_REQ_BY_UID)
			return m->user[0] == '\0' ? 0 : -1;
		if (m->flag == ACCOUNT_REQ_BY_NAME || m->flag == ACCOUNT_REQ_CHECK)
			return mon_user_ok(m->user) ? 0 : -1;
		return -1;
	}
	*why = "not a message for the monitor";
	return -1;
}

void
mon_encode(struct wbuf *w, const struct mon_msg *m)
{
	size_t	off = frame_begin(w, m->type);

	switch (m->type) {
	case MON_KEY_WANTED:
		wbuf_u8(w, m->flag);
		break;
	case MON_LOG:
		wbuf_u8(w, m->flag);
		wbuf_str(w, m->text);
		break;
	case MON_PAM_START:
		wbuf_u32(w, m->id);
		wbuf_u32(w, m->uid);
		wbuf_str(w, m->user);
		wbuf_str(w, m->ruser);
		wbuf_u8(w, m->flag);
		break;
	case MON_OTP_ASK:
		wbuf_u32(w, m->id);
		wbuf_u8(w, m->flag);
		wbuf_str(w, m->user);
		break;
	case MON_PAM_REPLY:
		wbuf_u32(w, m->id);
		wbuf_put(w, m->reply, m->reply_len);
		break;
	case MON_PAM_CANCEL:
		wbuf_u32(w, m->id);
		break;
	case MON_ACCT_ASK:
		wbuf_u8(w, m->flag);
		wbuf_u32(w, m->uid);
		wbuf_str(w, m->user);
		break;
	}
	frame_end(w, off);
}
