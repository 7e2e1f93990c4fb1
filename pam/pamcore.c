/* SPDX-License-Identifier: ISC */
/*
 * pam_tokend's decisions (pamcore.h); no PAM calls here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "pamcore.h"
#include "tokend.h"

static int
opt_int(const char *s, int min, int max, int *out)
{
	char	*end;
	long	 v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

int
pamcore_parse(int argc, const char **argv, struct pamcore_opts *o, char *err,
    size_t errlen)
{
	const char	*a;
	int		 i, secs;

	memset(o, 0, sizeof(*o));
	o->accept = PAMCORE_ACCEPT_ANY;
	o->timeout_ms = 5000;
	o->warn_days = 7;
	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (strncmp(a, "socket=", 7) == 0) {
			if (strlen(a + 7) == 0 || strlen(a + 7) >= sizeof(o->socket))
				goto bad;
			memcpy(o->socket, a + 7, strlen(a + 7) + 1);
		} else if (strncmp(a, "scope=", 6) == 0) {
			if (strlen(a + 6) == 0 || strlen(a + 6) >= sizeof(o->scope))
				goto bad;
			memcpy(o->scope, a + 6, strlen(a + 6) + 1);
		} else if (strcmp(a, "accept=access") == 0)
			o->accept = PAMCORE_ACCEPT_ACCESS;
		else if (strcmp(a, "accept=refresh") == 0)
			o->accept = PAMCORE_ACCEPT_REFRESH;
		else if (strcmp(a, "accept=any") == 0)
			o->accept = PAMCORE_ACCEPT_ANY;
		else if (strncmp(a, "timeout=", 8) == 0) {
			if (opt_int(a + 8, 1, 300, &secs) == -1)
				goto bad;
			o->timeout_ms = secs * 1000;
		} else if (strncmp(a, "warn_days=", 10) == 0) {
			if (opt_int(a + 10, 0, 3650, &o->warn_days) == -1)
				goto bad;
		} else if (strcmp(a, "use_first_pass") == 0)
			o->use_first_pass = 1;
		else if (strcmp(a, "try_first_pass") == 0)
			o->try_first_pass = 1;
		else if (strcmp(a, "debug") == 0)
			o->debug = 1;
		else
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad option: %s", a);
	return -1;
}

const char *
pamcore_verdict_str(enum pamcore_verdict v)
{
	switch (v) {
	case PAMCORE_OK:		return "token accepted";
	case PAMCORE_MALFORMED:		return "not a well-formed token";
	case PAMCORE_INACTIVE:		return "token not active";
	case PAMCORE_WRONG_USER:	return "token belongs to another user";
	case PAMCORE_WRONG_KIND:	return "token kind not accepted";
	case PAMCORE_NO_SCOPE:		return "token lacks the required scope";
	case PAMCORE_UNAVAIL:		return "tokend unreachable";
	case PAMCORE_DENIED:		return "not permitted to verify tokens";
	}
	return "?";
}

enum pamcore_verdict
pamcore_check(const struct pamcore_opts *o, const char *user,
    const char *token, char detail[TOKEND_ID_SIZE])
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	 info;
	enum pamcore_verdict	 v;
	enum tokend_err		 err;
	unsigned		 i;
	int			 kind, active = 0;

	if (detail != NULL)
		detail[0] = '\0';
	if (tokend_token_parse(token, &kind, detail) != TOKEND_OK)
		return PAMCORE_MALFORMED;
	err = tokend_conn_open(&conn, o->socket[0] ? o->socket : TOKEND_DEFAULT_SOCKET,
	    o->timeout_ms);
	if (err == TOKEND_OK)
		err = tokend_token_verify(conn, token, &active, &info);
	tokend_conn_close(conn);
	switch (err) {
	case TOKEND_OK:
		break;
	case TOKEND_E_DENIED:
		return PAMCORE_DENIED;
	case TOKEND_E_FORMAT:
		return PAMCORE_MALFORMED;
	default:
		return PAMCORE_UNAVAIL;
	}
	if (!active)
		return PAMCORE_INACTIVE;
	if (strcmp(info.user, user) != 0)
		v = PAMCORE_WRONG_USER;
	else if ((info.kind == TOKEND_KIND_ACCESS &&
	    !(o->accept & PAMCORE_ACCEPT_ACCESS)) ||
	    (info.kind == TOKEND_KIND_REFRESH &&
	    !(o->accept & PAMCORE_ACCEPT_REFRESH)))
		v = PAMCORE_WRONG_KIND;
	else if (o->scope[0] != '\0') {
		v = PAMCORE_NO_SCOPE;
		for (i = 0; i < info.nscopes; i++)
			if (strcmp(info.scopes[i], o->scope) == 0)
				v = PAMCORE_OK;
	} else
		v = PAMCORE_OK;
	if (detail != NULL)
		memcpy(detail, info.id, TOKEND_ID_SIZE);
	return v;
}

void
pamcore_warning(const struct tokend_token *t, int64_t now, char *buf,
    size_t size)
{
	struct tm	tm;
	time_t		exp = (time_t)t->expires;
	char		date[16], when[32], name[TOKEND_NAME_SIZE];

	gmtime_r(&exp, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	/* The rule tokenctl list uses: both say the same of one token. */
	duration_relative(t->expires, now, when, sizeof(when));
	/* The name is the user's own text: no escape sequence reaches the terminal. */
	tokend_text_clean(t->name, name, sizeof(name));
	snprintf(buf, size, "Your tokend token \"%s\" expires %s (%s).",
	    name, when, date);
}

struct tokend_token *
pamcore_expiring(const struct pamcore_opts *o, const char *user, int64_t now,
    size_t *n)
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	*all = NULL;
	size_t			 count = 0, i, k = 0;
	int64_t			 horizon = now + (int64_t)o->warn_days * 86400;

	*n = 0;
	if (tokend_conn_open(&conn, o->socket[0] ? o->socket : TOKEND_DEFAULT_SOCKET,
	    o->timeout_ms) != TOKEND_OK ||
	    tokend_token_list(conn, user, 0, &all, &count) != TOKEND_OK) {
		tokend_conn_close(conn);
		return NULL;
	}
	tokend_conn_close(conn);
	for (i = 0; i < count; i++)
		if (all[i].expires > now && all[i].expires <= horizon)
			all[k++] = all[i];
	if (k == 0) {
		free(all);
		return NULL;
	}
	*n = k;
	return all;
}
