/* SPDX-License-Identifier: ISC */
/*
 * The logic of pam_tokend.so, kept apart from the pam_sm_* entry points
 * so that unit tests link it directly.
 */
#ifndef TOKEND_PAMCORE_H
#define TOKEND_PAMCORE_H

#include <stddef.h>
#include <stdint.h>

#include "tokend.h"

#define PAMCORE_ACCEPT_ACCESS	0x1
#define PAMCORE_ACCEPT_REFRESH	0x2
#define PAMCORE_ACCEPT_ANY	(PAMCORE_ACCEPT_ACCESS | PAMCORE_ACCEPT_REFRESH)

struct pamcore_opts {
	char		socket[108];		/* "" = TOKEND_DEFAULT_SOCKET, never the environment */
	char		scope[TOKEND_SCOPE_SIZE];	/* "" = none required */
	int		accept;			/* PAMCORE_ACCEPT_* */
	int		use_first_pass;
	int		try_first_pass;
	int		debug;
	int		timeout_ms;		/* timeout=SECONDS, default 5 */
	int		warn_days;		/* warn_days=N, default 7 */
};

enum pamcore_verdict {
	PAMCORE_OK,
	PAMCORE_MALFORMED,	/* not a token (checksum): the daemon was not asked */
	PAMCORE_INACTIVE,	/* expired, revoked, unknown */
	PAMCORE_WRONG_USER,	/* active, but someone else's */
	PAMCORE_WRONG_KIND,	/* refresh where accept=access, or the reverse */
	PAMCORE_NO_SCOPE,	/* lacks the scope= the stack requires */
	PAMCORE_UNAVAIL,	/* daemon unreachable or timed out */
	PAMCORE_DENIED,		/* this process may not verify (verifier group) */
};

/* Parse module arguments; -1 and err filled for an unknown or bad one. */
int		 pamcore_parse(int argc, const char **argv,
		     struct pamcore_opts *opts, char *err, size_t errlen);
/*
 * Decide whether token authenticates user.  *detail (may be NULL)
 * receives the token id for logs; never the token itself.
 */
enum pamcore_verdict pamcore_check(const struct pamcore_opts *opts,
		     const char *user, const char *token,
		     char detail[TOKEND_ID_SIZE]);
const char	*pamcore_verdict_str(enum pamcore_verdict);
/*
 * The warning for a token that expires soon, e.g.
 * Your tokend token "ci" expires in 3 days (2026-12-01).
 */
void		 pamcore_warning(const struct tokend_token *t, int64_t now,
		     char *buf, size_t size);
/*
 * The user's refresh tokens expiring within warn_days: a malloc'ed
 * array (caller frees) of *n records, or NULL when none or unreachable.
 */
struct tokend_token *pamcore_expiring(const struct pamcore_opts *opts,
		     const char *user, int64_t now, size_t *n);

#endif /* TOKEND_PAMCORE_H */
