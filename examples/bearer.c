/* SPDX-License-Identifier: ISC */
/*
 * bearer: check the bearer token of an HTTP request with tokend.
 *
 * A service that accepts tokend tokens does what this program does with
 * one header line: find "Authorization: Bearer <token>", ask tokend
 * whether the token is active, and use the owner and scopes it returns.
 * The process must run as root or in tokend's verifier group.
 *
 *   printf 'Authorization: Bearer %s\r\n' "$TOKEN" | ./bearer [SCOPE]
 *
 * Build: cc -o bearer bearer.c $(pkg-config --cflags --libs tokend)
 * Keep one connection per thread and reuse it: a VERIFY costs one round
 * trip, and libtokend reconnects by itself if the daemon closed it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <tokend.h>

/* The token in an "Authorization: Bearer" line, or NULL. */
static char *
bearer_token(char *line)
{
	static const char	 name[] = "authorization:";
	char			*p = line;

	if (strncasecmp(p, name, sizeof(name) - 1) != 0)
		return NULL;
	p += sizeof(name) - 1;
	p += strspn(p, " \t");
	if (strncasecmp(p, "bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return NULL;
	p += 6;
	p += strspn(p, " \t");
	p[strcspn(p, " \t\r\n")] = '\0';
	return *p ? p : NULL;
}

static int
has_scope(const struct tokend_token *t, const char *scope)
{
	unsigned	i;

	for (i = 0; i < t->nscopes; i++)
		if (strcmp(t->scopes[i], scope) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	 info;
	enum tokend_err		 err;
	char			 line[1024], *token = NULL;
	int			 active = 0, status = 1;

	while (token == NULL && fgets(line, sizeof(line), stdin) != NULL)
		token = bearer_token(line);
	if (token == NULL) {
		printf("401 no bearer token\n");
		goto done;
	}
	/* NULL: $TOKEND_SOCKET or /run/tokend/tokend.sock; 2 s per call. */
	if ((err = tokend_conn_open(&conn, NULL, 2000)) != TOKEND_OK ||
	    (err = tokend_token_verify(conn, token, &active, &info)) != TOKEND_OK) {
		if (err == TOKEND_E_FORMAT)
			printf("401 not a token\n");
		else
			printf("503 cannot verify: %s\n", tokend_strerror(err));
		goto done;
	}
	if (!active)
		printf("401 token not active\n");
	else if (argc > 1 && !has_scope(&info, argv[1]))
		printf("403 token of %s lacks scope %s\n", info.user, argv[1]);
	else {
		printf("200 %s (uid %u), %s token %s\n", info.user,
		    (unsigned)info.uid, info.kind == TOKEND_KIND_ACCESS ?
		    "access" : "refresh", info.id);
		status = 0;
	}
done:
	tokend_wipe(line, sizeof(line));
	tokend_conn_close(conn);
	return status;
}
