/* SPDX-License-Identifier: ISC */
/*
 * fuzz_monitor: one message on the monitor's end of the channel, as a
 * compromised engine could send it (daemon/monitor.h).  It goes through
 * exactly what the monitor does before acting on a message:
 * channel_check() with the monitor's rules (type and length first), then
 * mon_decode().  A message that passes both must hold only what the
 * monitor may act on (user names non-empty, without control characters
 * or ':'; terminated strings; a PAM reply that is a CONV_REPLY with at
 * least one answer) and must encode back, with mon_encode(), to the very
 * same bytes: nothing in it went unread.  The message is copied into a
 * buffer of exactly its size, so a read past its end is caught.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "account.h"
#include "monitor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_user(const char *s, size_t size, int may_be_empty, const char *what)
{
	const char	*end = memchr(s, '\0', size);

	if (end == NULL) {
		fprintf(stderr, "fuzz_monitor: %s not terminated\n", what);
		abort();
	}
	if (end == s && !may_be_empty) {
		fprintf(stderr, "fuzz_monitor: empty %s accepted\n", what);
		abort();
	}
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ':') {
			fprintf(stderr, "fuzz_monitor: %s with byte 0x%02x "
			    "accepted\n", what, (unsigned char)*s);
			abort();
		}
}

static void
check(const struct mon_msg *m, const uint8_t *body, size_t len)
{
	const char	*p;

	switch (m->type) {
	case MON_KEY_WANTED:
		if (m->flag > 1)
			abort();
		break;
	case MON_LOG:
		if (m->flag > LOG_DEBUG ||
		    memchr(m->text, '\0', sizeof(m->text)) == NULL)
			abort();
		for (p = m->text; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		break;
	case MON_PAM_START:
		check_user(m->user, sizeof(m->user), 0, "PAM_START user");
		check_user(m->ruser, sizeof(m->ruser), 1, "PAM_START ruser");
		if (m->flag > MON_PAM_MODE_REMOVE)
			abort();
		break;
	case MON_OTP_ASK:
		check_user(m->user, sizeof(m->user), 0, "OTP_ASK user");
		if (m->flag != OTP_STATUS && m->flag != OTP_REMOVE)
			abort();
		break;
	case MON_PAM_REPLY:
		/* The reply is the rest of the body, in place. */
		if (m->reply != body + 4 || m->reply_len != len - 4 ||
		    m->reply_len < 1 || m->reply[0] == 0)
			abort();
		break;
	case MON_ACCT_ASK:
		if (m->flag == ACCOUNT_REQ_BY_UID)
			check_user(m->user, sizeof(m->user), 1, "ACCT_ASK name");
		else if (m->flag == ACCOUNT_REQ_BY_NAME ||
		    m->flag == ACCOUNT_REQ_CHECK)
			check_user(m->user, sizeof(m->user), 0, "ACCT_ASK name");
		else
			abort();
		if (m->flag == ACCOUNT_REQ_BY_UID && m->user[0] != '\0')
			abort();
		break;
	case MON_READY:
	case MON_PAM_CANCEL:
	case MON_ACCT_RESET:
		break;
	default:
		fprintf(stderr, "fuzz_monitor: type 0x%02x decoded\n", m->type);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mon_msg	 m;
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	const char		*why = NULL;
	uint8_t			*msg;

	if (size > MON_MSG_MAX)
		return 0;	/* recvmsg would have said MSG_TRUNC */
	if ((msg = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(msg, data, size);
	if (channel_check(msg, size, &channel_to_monitor, &hdr, &why) == -1) {
		if (why == NULL)
			abort();	/* a refusal always says why */
		free(msg);
		return 0;
	}
	if (hdr.length + TOKEND_HDR_LEN != size)
		abort();
	why = NULL;
	if (mon_decode(hdr.type, msg + TOKEND_HDR_LEN, hdr.length, &m,
	    &why) == -1) {
		if (why == NULL)
			abort();
		free(msg);
		return 0;
	}
	check(&m, msg + TOKEND_HDR_LEN, hdr.length);
	wbuf_init(&w);
	mon_encode(&w, &m);
	if (w.failed || w.len != size || memcmp(w.data, msg, size) != 0) {
		fprintf(stderr, "fuzz_monitor: %s does not encode back to the "
		    "same %zu bytes (%zu)\n", channel_type_name(hdr.type),
		    size, w.len);
		abort();
	}
	wbuf_free(&w);
	free(msg);
	return 0;
}
