/* SPDX-License-Identifier: ISC */
/*
 * tokenctl delete: revoke one refresh token or all of a user's, after the
 * user has typed "yes" (unless --yes).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tokenctl.h"

#define CMD_DELETE_QUESTION_MAX	1024

static const struct option cmd_delete_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "all",	no_argument,		NULL,	TOKENCTL_OPT_ALL },
	{ "user",	required_argument,	NULL,	TOKENCTL_OPT_USER },
	{ "yes",	no_argument,		NULL,	TOKENCTL_OPT_YES },
	{ NULL,		0,			NULL,	0 }
};

int
tokenctl_confirm(const char *cmd, const char *question, const char *done)
{
	const char	*cause = NULL;

	switch (prompt_confirm(question, &cause)) {
	case 1:
		return 0;
	case 0:
		tokenctl_failx(TOKEND_E_ABORTED,
		    "%s: not confirmed; nothing was %s", cmd, done);
		return TOKENCTL_EXIT_REFUSED;
	default:
		tokenctl_failx(TOKEND_E_ABORTED,
		    "%s: %s; nothing was %s", cmd, cause, done);
		return TOKENCTL_EXIT_REFUSED;
	}
}

/*
 * The token whose id or name is arg, in list; NULL if none.  A name is
 * unique among live tokens only: an expired token, or one rotated (its
 * name is its successor's), may share it, and the live one wins.
 */
static const struct tokend_token *
find_in(const struct tokend_token *toks, size_t n, const char *arg)
{
	int64_t	now = output_now();
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(toks[i].id, arg) == 0)
			return &toks[i];
	for (i = 0; i < n; i++)
		if (strcmp(toks[i].name, arg) == 0 && toks[i].expires > now &&
		    toks[i].parent[0] == '\0')
			return &toks[i];
	for (i = 0; i < n; i++)
		if (strcmp(toks[i].name, arg) == 0)
			return &toks[i];
	return NULL;
}

/*
 * Which token "delete ARG" (or "show ARG") means: an id or a name among
 * the caller's tokens (or user's, for an admin's --user); an admin may
 * also give the id of anyone's.  Both paths of delete, with and without
 * --yes, go through here, so "not found" reads the same.  0 and *found
 * set, or an exit status (reported).
 */
int
tokenctl_find_token(struct tokend_conn *conn, const char *cmd,
    const char *user, const char *arg, struct tokend_token *found)
{
	const struct tokend_token	*t;
	struct tokend_token		*toks = NULL;
	enum tokend_err			 err;
	char				 what[TOKEND_NAME_SIZE + 16];
	size_t				 i, n = 0;

	snprintf(what, sizeof(what), "%s %s", cmd, tokenctl_safe_arg(arg));
	if ((err = tokend_token_list(conn, user, 0, &toks, &n)) != TOKEND_OK)
		return tokenctl_fail(conn, err, what);
	t = find_in(toks, n, arg);
	/* Not the caller's: an admin may mean anyone's, by id. */
	if (t == NULL && user == NULL) {
		free(toks);
		toks = NULL;
		n = 0;
		if (tokend_token_list(conn, NULL, 1, &toks, &n) != TOKEND_OK)
			n = 0;
		for (i = 0; i < n && t == NULL; i++)
			if (strcmp(toks[i].id, arg) == 0)
				t = &toks[i];
	}
	if (t == NULL) {
		free(toks);
		tokenctl_failx(TOKEND_E_NOT_FOUND, "%s: no token with that id "
		    "or name%s%s (see 'tokenctl list')", what,
		    user != NULL ? " for " : "",
		    user != NULL ? tokenctl_safe_arg(user) : "");
		return TOKENCTL_EXIT_REFUSED;
	}
	*found = *t;
	free(toks);
	return 0;
}

/*
 * Name the token in the question, and its owner when that is not the
 * caller (an admin deleting someone else's).
 */
static int
cmd_delete_confirm_one(const struct tokend_token *t)
{
	char	question[CMD_DELETE_QUESTION_MAX];
	char	name[TOKEND_NAME_SIZE], date[OUTPUT_TIME_SIZE];
	char	owner[TOKEND_USER_SIZE];

	output_clean(t->name, name, sizeof(name));
	output_time_date(t->expires, date, sizeof(date));
	if (t->uid != getuid()) {
		output_clean(t->user, owner, sizeof(owner));
		snprintf(question, sizeof(question), "Delete token %s (\"%s\" "
		    "of %s, expires %s)? It and every access token made from "
		    "it stop working at once. Type \"yes\" to confirm: ", t->id,
		    name, owner, date);
	} else
		snprintf(question, sizeof(question), "Delete token %s (\"%s\", "
		    "expires %s)? It and every access token made from it stop "
		    "working at once. Type \"yes\" to confirm: ", t->id, name,
		    date);
	return tokenctl_confirm("delete", question, "deleted");
}

/* Count the tokens first; *none is set when there is nothing to delete. */
static int
cmd_delete_confirm_all(struct tokend_conn *conn, const char *user, int *none)
{
	struct tokend_token	*toks = NULL;
	enum tokend_err		 err;
	char			 question[CMD_DELETE_QUESTION_MAX];
	char			 who[TOKEND_USER_SIZE], name[TOKEND_NAME_SIZE];
	size_t			 n = 0;
	int			 rc;

	*none = 0;
	if ((err = tokend_token_list(conn, user, 0, &toks, &n)) != TOKEND_OK) {
		rc = tokenctl_fail(conn, err, "delete");
		goto done;
	}
	if (n == 0) {
		*none = 1;
		rc = 0;
		goto done;
	}
	output_clean(user != NULL ? user : toks[0].user, who, sizeof(who));
	output_clean(toks[0].name, name, sizeof(name));
	if (n == 1)
		snprintf(question, sizeof(question), "Delete the only token of "
		    "%s (%s, \"%s\")? It and every access token made from it "
		    "stop working at once. Type \"yes\" to confirm: ", who,
		    toks[0].id, name);
	else
		snprintf(question, sizeof(question), "Delete all %zu tokens of "
		    "%s? Every one of them and every access token made from "
		    "them stop working at once. Type \"yes\" to confirm: ", n,
		    who);
	rc = tokenctl_confirm("delete", question, "deleted");
done:
	free(toks);
	return rc;
}

static int
cmd_delete_report(const struct tokenctl_opts *opts, const char *id,
    uint32_t count)
{
	struct json_object	*o;
	int			 rc = -1;

	if (id != NULL)
		fprintf(stderr, "Deleted token %s.\n", id);
	else
		fprintf(stderr, "Deleted %u token%s.\n", (unsigned)count,
		    count == 1 ? "" : "s");
	if (!opts->json)
		return 0;
	if ((o = json_object_new_object()) == NULL)
		return -1;
	if (output_json_uint(o, "deleted", count) == 0)
		rc = output_json_print(o);
	json_object_put(o);
	return rc;
}

int
cmd_delete(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	 one;
	enum tokend_err		 err;
	const char		*user = NULL, *id = NULL;
	uint32_t		 count = 0;
	char			 what[TOKEND_ID_SIZE + 8];
	int			 ch, all = 0, yes = 0, none = 0, rc;

	while ((ch = getopt_long(argc, argv, ":", cmd_delete_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "delete");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_ALL:
			all = 1;
			break;
		case TOKENCTL_OPT_USER:
			if ((rc = tokenctl_opt_user("delete", optarg, &user)) != 0)
				return rc;
			break;
		case TOKENCTL_OPT_YES:
			yes = 1;
			break;
		default:
			return tokenctl_getopt_error("delete", ch, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (all && argc > 0)
		return tokenctl_usage_error("delete: --all takes no token id "
		    "or name");
	if (!all && argc == 0)
		return tokenctl_usage_error("delete: a token id or name, or "
		    "--all, is needed");
	if (argc > 1)
		return tokenctl_usage_error("delete: unexpected argument %s",
		    tokenctl_safe_arg(argv[1]));
	if (!all && (argv[0][0] == '\0' ||
	    strlen(argv[0]) >= TOKEND_NAME_SIZE))
		return tokenctl_usage_error("delete: a token id or name is 1 "
		    "to %d bytes", TOKEND_NAME_SIZE - 1);

	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	if (!all) {
		if ((rc = tokenctl_find_token(conn, "delete", user, argv[0], &one)) != 0)
			goto done;
		id = one.id;
	}
	if (!yes) {
		if (all)
			rc = cmd_delete_confirm_all(conn, user, &none);
		else
			rc = cmd_delete_confirm_one(&one);
		if (rc != 0)
			goto done;
	}
	if (none)
		err = TOKEND_OK;	/* nothing to ask about or delete */
	else if (all)
		err = tokend_token_revoke_all(conn, user, &count);
	else {
		err = tokend_token_revoke(conn, id);
		count = 1;
	}
	if (err != TOKEND_OK) {
		snprintf(what, sizeof(what), "delete%s%s", id != NULL ? " " : "",
		    id != NULL ? id : "");
		rc = tokenctl_fail(conn, err, what);
		goto done;
	}
	if (cmd_delete_report(opts, id, count) == -1) {
		tokenctl_failx(TOKEND_E_IO, "delete: cannot write the result");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	}
done:
	tokend_conn_close(conn);
	return rc;
}
