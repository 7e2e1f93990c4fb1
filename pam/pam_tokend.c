/* SPDX-License-Identifier: ISC */
/*
 * pam_tokend.so: accept a tokend token as the password (auth) and warn
 * about tokens that expire soon (session).  Only the pam_sm_* entry points
 * live here; the decisions are in pamcore.c.
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define PAM_SM_AUTH
#define PAM_SM_SESSION
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pamcore.h"

static int
verdict_to_pam(enum pamcore_verdict v)
{
	switch (v) {
	case PAMCORE_OK:	return PAM_SUCCESS;
	case PAMCORE_UNAVAIL:	return PAM_AUTHINFO_UNAVAIL;
	case PAMCORE_DENIED:	return PAM_AUTHINFO_UNAVAIL;
	default:		return PAM_AUTH_ERR;
	}
}

static enum pamcore_verdict
check_logged(pam_handle_t *pamh, const struct pamcore_opts *o,
    const char *user, const char *token)
{
	enum pamcore_verdict	v;
	char			id[TOKEND_ID_SIZE];

	v = pamcore_check(o, user, token, id);
	if (v == PAMCORE_OK || o->debug || v == PAMCORE_UNAVAIL ||
	    v == PAMCORE_DENIED)
		pam_syslog(pamh, v == PAMCORE_OK ? LOG_INFO : LOG_NOTICE,
		    "user %s, token %s: %s", user, id[0] ? id : "-",
		    pamcore_verdict_str(v));
	return v;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pamcore_opts	 o;
	enum pamcore_verdict	 v = PAMCORE_MALFORMED;
	const char		*user = NULL;
	const void		*item = NULL;
	char			*typed = NULL, err[128];
	int			 rc;

	(void)flags;
	if (pamcore_parse(argc, argv, &o, err, sizeof(err)) == -1) {
		pam_syslog(pamh, LOG_ERR, "%s", err);
		return PAM_SERVICE_ERR;
	}
	/* In tokend's own ISSUE a token must not stand in for the password. */
	if (pam_getenv(pamh, "TOKEND_ISSUE") != NULL) {
		if (o.debug)
			pam_syslog(pamh, LOG_DEBUG, "ignored inside a tokend ISSUE");
		return PAM_IGNORE;
	}
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL ||
	    *user == '\0')
		return PAM_USER_UNKNOWN;
	if (o.use_first_pass || o.try_first_pass) {
		if (pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS &&
		    item != NULL) {
			v = check_logged(pamh, &o, user, item);
			if (v == PAMCORE_OK || v == PAMCORE_UNAVAIL ||
			    o.use_first_pass)
				return verdict_to_pam(v);
		} else if (o.use_first_pass)
			return PAM_AUTH_ERR;
	}
	rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &typed, "Token: ");
	if (rc != PAM_SUCCESS || typed == NULL)
		return rc == PAM_SUCCESS ? PAM_AUTH_ERR : rc;
	v = check_logged(pamh, &o, user, typed);
	tokend_wipe(typed, strlen(typed));
	free(typed);
	return verdict_to_pam(v);
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pamcore_opts	 o;
	struct tokend_token	*t;
	const void		*item = NULL;
	const char		*user;
	char			 line[256], err[128];
	size_t			 n = 0, i;
	int64_t			 now = (int64_t)time(NULL);

	if (pamcore_parse(argc, argv, &o, err, sizeof(err)) == -1) {
		pam_syslog(pamh, LOG_ERR, "%s", err);
		return PAM_SUCCESS;	/* a warning never blocks a login */
	}
	if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS || item == NULL)
		return PAM_SUCCESS;
	user = item;
	if ((t = pamcore_expiring(&o, user, now, &n)) == NULL)
		return PAM_SUCCESS;
	for (i = 0; i < n; i++) {
		pamcore_warning(&t[i], now, line, sizeof(line));
		if (!(flags & PAM_SILENT))
			pam_info(pamh, "%s", line);
	}
	free(t);
	return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
