/* SPDX-License-Identifier: ISC */
/*
 * The account helper process: `tokend --account-helper SERVICE CONFDIR`,
 * started by the monitor (monitor.c) with its end of a SOCK_SEQPACKET
 * socketpair as fd 3.  It answers, one at a time and in order, the
 * password-database look-ups and account checks of account.h, so that
 * NSS and PAM never run on the event loop.
 *
 * A check is one pam_start per user with the PAM account phase alone
 * (no authentication, no conversation).  A handle opened at start-up
 * and never ended keeps the modules loaded, so later pam_start calls do
 * not load them again.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "account.h"
#include "daemon.h"
#include "helper.h"

#define REQ_BUF		(TOKEND_HDR_LEN + 16 + TOKEND_USER_MAX)

static const char	*service;
static const char	*confdir;

/* Account modules may talk; nobody is there to answer. */
static int
child_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	int	i;

	(void)arg;
	*resp = NULL;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			return PAM_CONV_ERR;
	return PAM_SUCCESS;
}

static struct pam_conv	conv = { child_conv, NULL };

static int
child_pam_start(const char *user, pam_handle_t **pamh)
{
	if (confdir[0] != '\0')
		return pam_start_confdir(service, user, &conv, confdir, pamh);
	return pam_start(service, user, &conv, pamh);
}

/* getpw*_r with a buffer that grows as the entry needs. */
static int
child_getpw(uid_t uid, const char *name, struct passwd *pw, char **buf)
{
	struct passwd	*res = NULL;
	size_t		 size = 1024;
	char		*b = NULL, *nb;
	int		 rc;

	for (;;) {
		if ((nb = realloc(b, size)) == NULL) {
			free(b);
			return ACCOUNT_RES_ERROR;
		}
		b = nb;
		rc = name != NULL ? getpwnam_r(name, pw, b, size, &res) :
		    getpwuid_r(uid, pw, b, size, &res);
		if (rc != ERANGE || size >= (1 << 20))
			break;
		size *= 2;
	}
	*buf = b;
	if (res != NULL)
		return ACCOUNT_RES_OK;
	/* 0, ENOENT, ESRCH, EBADF, EPERM: "not found" (getpwnam_r(3)). */
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
	    rc == EPERM)
		return ACCOUNT_RES_NONE;
	return ACCOUNT_RES_ERROR;
}

static void
child_answer(int type, int result, uint32_t uid, const char *name,
    const char *detail)
{
	struct wbuf	w;
	size_t		off;
	char		cut[TOKEND_ERRMSG_MAX + 1];

	snprintf(cut, sizeof(cut), "%s", detail);
	wbuf_init(&w);
	off = frame_begin(&w, ACCOUNT_MSG_ANSWER);
	wbuf_u8(&w, (uint8_t)type);
	wbuf_u8(&w, (uint8_t)result);
	wbuf_u32(&w, uid);
	wbuf_str(&w, name);
	wbuf_str(&w, cut);
	frame_end(&w, off);
	if (w.failed || send(3, w.data, w.len, MSG_NOSIGNAL) == -1)
		_exit(2);
	wbuf_free(&w);
}

static void
child_check(uint32_t uid, const char *name)
{
	struct passwd	 pw;
	pam_handle_t	*pamh = NULL;
	char		*buf = NULL, detail[TOKEND_USER_MAX + 32];
	int		 res, rc;

	res = child_getpw(0, name, &pw, &buf);
	if (res == ACCOUNT_RES_OK && pw.pw_uid != uid) {
		snprintf(detail, sizeof(detail), "%s is now uid %u", name,
		    (unsigned)pw.pw_uid);
		free(buf);
		child_answer(ACCOUNT_REQ_CHECK, ACCOUNT_RES_NONE, uid, name,
		    detail);
		return;
	}
	free(buf);
	if (res != ACCOUNT_RES_OK) {
		child_answer(ACCOUNT_REQ_CHECK, res, uid, name,
		    res == ACCOUNT_RES_NONE ? "no such user" :
		    "the password database failed");
		return;
	}
	if ((rc = child_pam_start(name, &pamh)) != PAM_SUCCESS) {
		child_answer(ACCOUNT_REQ_CHECK, ACCOUNT_RES_ERROR, uid, name,
		    "pam_start failed");
		return;
	}
	rc = pam_acct_mgmt(pamh, PAM_SILENT);
	switch (rc) {
	case PAM_SUCCESS:
	case PAM_NEW_AUTHTOK_REQD:	/* a password to change: still enabled */
		child_answer(ACCOUNT_REQ_CHECK, ACCOUNT_RES_OK, uid, name, "");
		break;
	case PAM_ACCT_EXPIRED:
	case PAM_PERM_DENIED:
	case PAM_USER_UNKNOWN:
	case PAM_AUTH_ERR:
		child_answer(ACCOUNT_REQ_CHECK, ACCOUNT_RES_NONE, uid, name,
		    pam_strerror(pamh, rc));
		break;
	default:
		/* LDAP down, a broken module: no answer, not "disabled". */
		child_answer(ACCOUNT_REQ_CHECK, ACCOUNT_RES_ERROR, uid, name,
		    pam_strerror(pamh, rc));
		break;
	}
	pam_end(pamh, rc);
}

static void
child_lookup(int type, uint32_t uid, const char *name)
{
	struct passwd	 pw;
	char		*buf = NULL;
	int		 res;

	res = child_getpw(uid, type == ACCOUNT_REQ_BY_NAME ? name : NULL, &pw,
	    &buf);
	if (res == ACCOUNT_RES_OK && strlen(pw.pw_name) > TOKEND_USER_MAX)
		res = ACCOUNT_RES_NONE;
	if (res == ACCOUNT_RES_OK)
		child_answer(type, res, pw.pw_uid, pw.pw_name, "");
	else
		child_answer(type, res, uid, name, "");
	free(buf);
}

int
accountchild_main(int argc, char **argv)
{
	static uint8_t		 buf[REQ_BUF];
	struct frame_hdr	 hdr;
	struct rbuf		 r;
	pam_handle_t		*keep = NULL;
	char			 name[TOKEND_USER_MAX + 1];
	ssize_t			 len;
	uint32_t		 uid;
	int			 devnull;

	helper_child_begin("tokend-account", SOCK_SEQPACKET);
	if (argc != 4) {
		fprintf(stderr, "tokend: this mode is for tokend's own use\n");
		_exit(2);
	}
	service = argv[2];
	confdir = argv[3];
	setpriority(PRIO_PROCESS, 0, ACCOUNT_HELPER_NICE);
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, STDIN_FILENO);
		if (devnull != STDIN_FILENO)
			close(devnull);
	}
	(void)child_pam_start("root", &keep);
	for (;;) {
		len = recv(3, buf, sizeof(buf), 0);
		if (len == -1 && errno == EINTR)
			continue;
		if (len <= 0)
			_exit(0);	/* the monitor is gone */
		if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
		    (size_t)len != TOKEND_HDR_LEN + hdr.length)
			_exit(2);
		rbuf_init(&r, buf + TOKEND_HDR_LEN, hdr.length);
		uid = rbuf_u32(&r);
		rbuf_str(&r, name, sizeof(name));
		if (rbuf_done(&r) == -1)
			_exit(2);
		switch (hdr.type) {
		case ACCOUNT_REQ_BY_UID:
		case ACCOUNT_REQ_BY_NAME:
			child_lookup(hdr.type, uid, name);
			break;
		case ACCOUNT_REQ_CHECK:
			child_check(uid, name);
			break;
		default:
			_exit(2);
		}
	}
}
