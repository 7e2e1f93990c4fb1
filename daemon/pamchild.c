/* SPDX-License-Identifier: ISC */
/*
 * The PAM helper process: `tokend --pam-helper SERVICE CONFDIR USER RUSER`,
 * started by the monitor (monitor.c) with its end of a SOCK_SEQPACKET
 * socketpair as fd 3.  It runs pam_authenticate + pam_acct_mgmt for USER
 * and sends each conversation call to the monitor as a CONV frame; the
 * monitor relays it through the engine to the client, and the client's
 * CONV_REPLY back.  Its last message says whether PAM said yes, for USER
 * and nobody else, and the uid USER has.
 *
 * With three more arguments, MODE OTP_DIR ENROLL_SERVICE, it manages the
 * user's one-time-code file (otp.h) once PAM said yes: "enroll" makes a
 * new secret, sends it to the user (a CONV_SECRET message) and writes it
 * only after a code from it matched; "remove" removes the file.  A first
 * enrolment authenticates with ENROLL_SERVICE (password only: the user
 * has no codes yet); replacing or removing one takes SERVICE, the full
 * stack.
 */
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <time.h>

#include <liboath/oath.h>
#include <security/pam_appl.h>

#include "daemon.h"
#include "monitor.h"
#include "otp.h"
#include "pamhelper.h"
#include "helper.h"

/* Tries at typing a code from the new secret before enrolment gives up. */
#define CHILD_OTP_TRIES		3

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

/*
 * Send the prompts m to the client (through the monitor and the engine)
 * and wait for its answers in *r.  0, or -1 when the answer is not a
 * CONV_REPLY to m.
 */
static int
child_ask(const struct msg_conv *m, struct msg_conv_reply *r)
{
	static uint8_t		 buf[CHILD_BUF];
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	ssize_t			 len;
	int			 rc = -1;

	wbuf_init(&w);
	enc_conv(&w, m);
	child_send(&w);
	wbuf_free(&w);		/* wipes an enrolment's secret */
	len = recv(child_fd, buf, sizeof(buf), 0);
	if (len >= TOKEND_HDR_LEN && frame_hdr_decode(buf, &hdr) == 0 &&
	    hdr.type == MSG_CONV_REPLY &&
	    (size_t)len == TOKEND_HDR_LEN + hdr.length &&
	    dec_conv_reply(buf + TOKEND_HDR_LEN, hdr.length, r) == 0 &&
	    r->n == m->n)
		rc = 0;
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int
child_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	struct msg_conv		*m = NULL;
	struct msg_conv_reply	*r = NULL;
	struct pam_response	*out = NULL;
	int			 i, rc = PAM_CONV_ERR;

	(void)arg;
	*resp = NULL;
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
	if (child_ask(m, r) == -1)
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
	return rc;
}

/*
 * The result: ok (1: yes; 0: no; 2: refused before PAM ran; 3: PAM said
 * yes but what came after failed, uid then holding the PERR_* code for
 * the client), the uid the user name has now, and why when not ok.
 */
static void
child_result(int ok, uint32_t uid, const char *message)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, PAMHELPER_MSG_RESULT);
	wbuf_u8(&w, (uint8_t)ok);
	wbuf_u32(&w, uid);
	wbuf_str(&w, message);
	frame_end(&w, off);
	child_send(&w);
	wbuf_free(&w);
}

/* A failure with errno's text (ok 3: after PAM, a store error). */
static void
child_result_errno(int ok, const char *what, const char *path)
{
	char	why[TOKEND_ERRMSG_MAX + 1];

	snprintf(why, sizeof(why), "%s %s: %s", what, path, strerror(errno));
	child_result(ok, ok == 3 ? PERR_STORE : 0, why);
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

/*
 * Run PAM's service for user: 1 when it said yes for user and nobody else
 * (*uid resolved again afterwards), 0 when the result has been sent.
 */
static int
child_pam(const char *service, const char *confdir, const char *user,
    const char *ruser, uint32_t *uid)
{
	struct pam_conv	 conv = { child_conv, NULL };
	pam_handle_t	*pamh = NULL;
	int		 rc, ok = 0;
	union {
		void	(*fn)(int, unsigned, void *);
		const void *p;
	} delay = { child_fail_delay };

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
	else if (rc == PAM_SUCCESS && child_uid(user, uid) == -1)
		child_result(0, 0, "the user name does not resolve");
	else if (rc == PAM_SUCCESS)
		ok = 1;
	else if (rc == PAM_NEW_AUTHTOK_REQD)
		child_result(0, 0, "password expired: change it first");
	else
		child_result(0, 0, pam_strerror(pamh, rc));
	pam_end(pamh, rc);
	return ok;
}

/* One message to show, then one prompt; 0 and the answer in *r, or -1. */
static int
child_prompt(int style, const char *text, const char *prompt,
    struct msg_conv_reply *r)
{
	struct msg_conv	*m;
	int		 rc = -1;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -1;
	m->n = 0;
	if (text != NULL) {
		m->style[m->n] = (uint8_t)style;
		snprintf(m->text[m->n++], sizeof(m->text[0]), "%s", text);
	}
	m->style[m->n] = CONV_ECHO_ON;
	snprintf(m->text[m->n++], sizeof(m->text[0]), "%s", prompt);
	rc = child_ask(m, r);
	explicit_bzero(m, sizeof(*m));
	free(m);
	return rc;
}

/* A code of OTP_DIGITS digits from key, now or one period off. */
static int
child_code_ok(const uint8_t *key, const char *code)
{
	size_t	i, n = strlen(code);

	if (n != OTP_DIGITS)
		return 0;
	for (i = 0; i < n; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return oath_totp_validate((const char *)key, OTP_KEY_BYTES, time(NULL),
	    OTP_PERIOD, 0, 1, code) >= 0;
}

/*
 * PAM said yes: make a secret, show it, and keep it once the user typed a
 * code from it.  replace: an enrolment existed when PAM started.
 */
static void __attribute__((noreturn))
child_enroll(const char *otp_dir, const char *user, uint32_t uid, int replace)
{
	static const char	 prompt[] = "Code shown by your authenticator app: ";
	struct msg_conv_reply	*r;
	uint8_t			 key[OTP_KEY_BYTES];
	char			 b32[OTP_B32_SIZE], uri[OTP_URI_MAX], host[256];
	const char		*text;
	int			 try, style, ok = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) ||
	    oath_init() != OATH_OK) {
		child_result(0, 0, "cannot make a secret");
		_exit(1);
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (otp_base32(key, sizeof(key), b32, sizeof(b32)) == -1 ||
	    otp_uri(user, host, b32, uri, sizeof(uri)) == -1) {
		child_result(0, 0, "the user or host name is too long for a "
		    "secret's URI");
		_exit(1);
	}
	text = uri;
	style = CONV_SECRET;
	for (try = 0; try < CHILD_OTP_TRIES && !ok; try++) {
		if (child_prompt(style, text, prompt, r) == -1)
			_exit(2);	/* the client went away */
		ok = child_code_ok(key, r->answers[r->n - 1]);
		explicit_bzero(r, sizeof(*r));
		text = "That code does not match. Check that the app shows "
		    "tokend's new entry and that the phone's clock is right, "
		    "then type the code it shows now.";
		style = CONV_ERROR;
	}
	explicit_bzero(uri, sizeof(uri));
	explicit_bzero(b32, sizeof(b32));
	if (!ok) {
		explicit_bzero(key, sizeof(key));
		child_result(3, PERR_AUTH, "no code matched the new secret; "
		    "nothing was saved");
		_exit(0);
	}
	if (otp_write(otp_dir, user, key, sizeof(key), replace) == -1) {
		explicit_bzero(key, sizeof(key));
		if (errno == EEXIST)
			child_result(3, PERR_EXISTS, "another enrolment was "
			    "saved meanwhile; nothing was saved");
		else
			child_result_errno(3, "cannot save the secret in",
			    otp_dir);
		_exit(1);
	}
	explicit_bzero(key, sizeof(key));
	oath_done();
	child_result(1, uid, "enrolled");
	_exit(0);
}

static void __attribute__((noreturn))
child_main(const char *service, const char *confdir, const char *user,
    const char *ruser, int mode, const char *otp_dir,
    const char *enroll_service)
{
	uint32_t	uid = 0;
	int64_t		since;
	int		enrolled = 0;

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
	if (mode != MON_PAM_MODE_ISSUE &&
	    (enrolled = otp_stat(otp_dir, user, &since)) == -1) {
		child_result_errno(0, "cannot read the enrolment in",
		    otp_dir);
		_exit(1);
	}
	if (mode == MON_PAM_MODE_REMOVE && !enrolled) {
		child_result(2, 0, "not enrolled for one-time codes");
		_exit(0);
	}
	/* Where the secret would go must be fit for it before PAM runs. */
	if (mode == MON_PAM_MODE_ENROLL && otp_mkdir(otp_dir) == -1) {
		child_result_errno(3, "cannot keep secrets in", otp_dir);
		_exit(1);
	}
	if (mode == MON_PAM_MODE_ENROLL && !enrolled)
		service = enroll_service;
	if (!child_pam(service, confdir, user, ruser, &uid))
		_exit(0);
	switch (mode) {
	case MON_PAM_MODE_ENROLL:
		child_enroll(otp_dir, user, uid, enrolled);
	case MON_PAM_MODE_REMOVE:
		if (otp_remove(otp_dir, user) == -1) {
			child_result_errno(3, "cannot remove the enrolment "
			    "in", otp_dir);
			_exit(1);
		}
		child_result(1, uid, "removed");
		_exit(0);
	}
	child_result(1, uid, "ok");
	_exit(0);
}

int
pamchild_main(int argc, char **argv)
{
	helper_child_begin("tokend-pam", SOCK_SEQPACKET);
	if (argc == 6)
		child_main(argv[2], argv[3], argv[4], argv[5],
		    MON_PAM_MODE_ISSUE, NULL, NULL);
	if (argc == 9 && strcmp(argv[6], "enroll") == 0)
		child_main(argv[2], argv[3], argv[4], argv[5],
		    MON_PAM_MODE_ENROLL, argv[7], argv[8]);
	if (argc == 9 && strcmp(argv[6], "remove") == 0)
		child_main(argv[2], argv[3], argv[4], argv[5],
		    MON_PAM_MODE_REMOVE, argv[7], argv[8]);
	fprintf(stderr, "tokend: this mode is for tokend's own use\n");
	_exit(2);
}
