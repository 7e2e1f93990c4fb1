/* SPDX-License-Identifier: ISC */
/*
 * The PAM helper process: `tokend --pam-helper SERVICE CONFDIR USER RUSER`,
 * started by the monitor (monitor.c) with its end of a SOCK_SEQPACKET
 * socketpair as fd 3.  It runs pam_authenticate + pam_acct_mgmt for USER
 * and sends each conversation call to the monitor as a CONV frame; the
 * monitor relays it through the engine to the client, and the client's
 * CONV_REPLY back.  Its last message says whether PAM said yes, for USER
 * and nobody else, and the uid USER has.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "daemon.h"
#include "pamhelper.h"
#include "helper.h"

#define CHILD_BUF	(TOKEND_HDR_LEN + TOKEND_FRAME_MAX)

static int	child_fd = 3;

static void
child_send(const struct wbuf *w)
{
	if (w->failed || send(child_fd, w->data, w->len, MSG_NOSIGNAL) == -1)
		_exit(2);
}

/* The daemon applies its own fixed delay, without blocking anything. */
static void
child_fail_delay(int retval, unsigned usec, void *arg)
{
	(void)retval;
	(void)usec;
	(void)arg;
}

static int
child_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	static uint8_t		 buf[CHILD_BUF];
	struct msg_conv		*m = NULL;
	struct msg_conv_reply	*r = NULL;
	struct pam_response	*out = NULL;
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	ssize_t			 len;
	int			 i, rc = PAM_CONV_ERR;

	(void)arg;
	*resp = NULL;
	wbuf_init(&w);
	if (n <= 0 || n > TOKEND_CONV_MAX)
		return PAM_CONV_ERR;
	m = calloc(1, sizeof(*m));
	r = calloc(1, sizeof(*r));
	out = calloc((size_t)n, sizeof(*out));
	if (m == NULL || r == NULL || out == NULL)
		goto done;
	m->n = (uint8_t)n;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style < PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style > PAM_TEXT_INFO)
			goto done;
		m->style[i] = (uint8_t)msg[i]->msg_style;
		snprintf(m->text[i], sizeof(m->text[i]), "%s",
		    msg[i]->msg ? msg[i]->msg : "");
	}
	enc_conv(&w, m);
	child_send(&w);
	len = recv(child_fd, buf, sizeof(buf), 0);
	if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
	    hdr.type != MSG_CONV_REPLY ||
	    (size_t)len != TOKEND_HDR_LEN + hdr.length ||
	    dec_conv_reply(buf + TOKEND_HDR_LEN, hdr.length, r) == -1 ||
	    r->n != n)
		goto done;
	for (i = 0; i < n; i++) {
		if (m->style[i] != PAM_PROMPT_ECHO_OFF &&
		    m->style[i] != PAM_PROMPT_ECHO_ON)
			continue;
		if ((out[i].resp = strdup(r->answers[i])) == NULL)
			goto done;
	}
	*resp = out;
	out = NULL;
	rc = PAM_SUCCESS;
done:
	explicit_bzero(buf, sizeof(buf));
	if (r != NULL) {
		explicit_bzero(r, sizeof(*r));
		free(r);
	}
	if (out != NULL) {
		for (i = 0; i < n; i++)
			if (out[i].resp != NULL) {
				explicit_bzero(out[i].resp, strlen(out[i].resp));
				free(out[i].resp);
			}
		free(out);
	}
	free(m);
	wbuf_free(&w);
	return rc;
}

/* The result: ok, the uid the user name has now, and why when not ok. */
static void
child_result(int ok, uint32_t uid, const char *message)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, PAMHELPER_MSG_RESULT);
	wbuf_u8(&w, ok ? 1 : 0);
	wbuf_u32(&w, uid);
	wbuf_str(&w, message);
	frame_end(&w, off);
	child_send(&w);
	wbuf_free(&w);
}

/*
 * A module may change PAM_USER (a user-mapping module, say): the token
 * would then be made for a name PAM never authenticated.  Only the name
 * asked for counts.
 */
static int
child_same_user(pam_handle_t *pamh, const char *user)
{
	const void	*item = NULL;

	return pam_get_item(pamh, PAM_USER, &item) == PAM_SUCCESS &&
	    item != NULL && strcmp(item, user) == 0;
}

/*
 * The uid the token will be made for: resolved here, on the monitor's
 * side, before PAM runs and again after it said yes (a module may take a
 * while), never taken from the engine.
 */
static int
child_uid(const char *user, uint32_t *uid)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[16384];

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*uid = (uint32_t)pw.pw_uid;
	return 0;
}

static void __attribute__((noreturn))
child_main(const char *service, const char *confdir, const char *user,
    const char *ruser)
{
	struct pam_conv	 conv = { child_conv, NULL };
	pam_handle_t	*pamh = NULL;
	uint32_t	 uid = 0;
	int		 rc;
	union {
		void	(*fn)(int, unsigned, void *);
		const void *p;
	} delay = { child_fail_delay };

	/*
	 * Loading and running the PAM stack costs milliseconds of CPU; on
	 * the event loop's CPU that would be felt by every VERIFY.  Nobody
	 * notices a login taking a little longer.
	 */
	setpriority(PRIO_PROCESS, 0, PAMHELPER_NICE);
	/*
	 * The name must be an account before PAM sees it: the engine asked
	 * for it, and the engine is not trusted to have looked it up.
	 */
	if (child_uid(user, &uid) == -1) {
		child_result(0, 0, "no such user");
		_exit(0);
	}
	if (confdir[0] != '\0')
		rc = pam_start_confdir(service, user, &conv, confdir, &pamh);
	else
		rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		child_result(0, 0, "pam_start failed");
		_exit(1);
	}
	pam_set_item(pamh, PAM_FAIL_DELAY, delay.p);
	pam_set_item(pamh, PAM_RUSER, ruser);
	/*
	 * pam_tokend.so steps aside in tokend's own transactions: a short-lived
	 * access token must never buy a new long-lived refresh token.
	 */
	pam_putenv(pamh, "TOKEND_ISSUE=1");
	rc = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS && !child_same_user(pamh, user))
		child_result(0, 0, "the PAM stack changed the user name");
	else if (rc == PAM_SUCCESS && child_uid(user, &uid) == -1)
		child_result(0, 0, "the user name does not resolve");
	else if (rc == PAM_SUCCESS)
		child_result(1, uid, "ok");
	else if (rc == PAM_NEW_AUTHTOK_REQD)
		child_result(0, 0, "password expired: change it first");
	else
		child_result(0, 0, pam_strerror(pamh, rc));
	pam_end(pamh, rc);
	_exit(0);
}

int
pamchild_main(int argc, char **argv)
{
	helper_child_begin("tokend-pam", SOCK_SEQPACKET);
	if (argc != 6) {
		fprintf(stderr, "tokend: this mode is for tokend's own use\n");
		_exit(2);
	}
	child_main(argv[2], argv[3], argv[4], argv[5]);
}
