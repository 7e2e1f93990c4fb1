/* SPDX-License-Identifier: ISC */
/*
 * tokenctl list: the caller's refresh tokens, one user's or everybody's,
 * as a table or a JSON array; expired ones only with --expired.
 * tokenctl show: one token, every field and its state; rename.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "tokenctl.h"

static const struct option cmd_list_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "user",	required_argument,	NULL,	TOKENCTL_OPT_USER },
	{ "all",	no_argument,		NULL,	TOKENCTL_OPT_ALL },
	{ "expired",	no_argument,		NULL,	TOKENCTL_OPT_EXPIRED },
	{ NULL,		0,			NULL,	0 }
};

static const struct option cmd_show_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "user",	required_argument,	NULL,	TOKENCTL_OPT_USER },
	{ NULL,		0,			NULL,	0 }
};

/* "in 30 days", "expired 3 days ago": a token's expiry seen from now. */
static void
cmd_list_expiry(int64_t expires, int64_t now, char *buf, size_t size)
{
	char	rel[OUTPUT_TIME_SIZE];

	output_time_relative(expires, now, rel, sizeof(rel));
	snprintf(buf, size, "%s%s", expires <= now ? "expired " : "", rel);
}

/*
 * A rotated refresh token names its successor in parent (PROTOCOL.md
 * §5.10); its expiry is then the end of its overlap.
 */
static int
cmd_list_rotated(const struct tokend_token *t)
{
	return t->kind == TOKEND_KIND_REFRESH && t->parent[0] != '\0';
}

/* One token as a JSON object: the fields of list (rotated_to if so). */
static int
cmd_list_json_token(struct json_object *o, const struct tokend_token *t)
{
	if (cmd_list_rotated(t) &&
	    output_json_string(o, "rotated_to", t->parent) == -1)
		return -1;
	if (output_json_string(o, "id", t->id) == -1 ||
	    output_json_string(o, "user", t->user) == -1 ||
	    output_json_string(o, "name", t->name) == -1 ||
	    output_json_time(o, "created", t->created, 0) == -1 ||
	    output_json_time(o, "expires", t->expires, 0) == -1 ||
	    output_json_time(o, "last_used", t->last_used, 1) == -1 ||
	    output_json_scopes(o, "scopes", t) == -1)
		return -1;
	return 0;
}

static int
cmd_list_json(const struct tokend_token *toks, size_t n)
{
	struct json_object	*a, *o;
	size_t			 i;
	int			 rc = -1;

	if ((a = json_object_new_array()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((o = json_object_new_object()) == NULL)
			goto fail;
		if (json_object_array_add(a, o) != 0) {
			json_object_put(o);
			goto fail;
		}
		if (cmd_list_json_token(o, &toks[i]) == -1)
			goto fail;
	}
	rc = output_json_print(a);
fail:
	json_object_put(a);
	return rc;
}

static int
cmd_list_table(const struct tokend_token *toks, size_t n, int show_user)
{
	static const char *const header[] = {
		"USER", "ID", "NAME", "CREATED", "EXPIRES", "LAST USED", "SCOPES"
	};
	struct output_table	*t;
	const char		*cells[7];
	char			 created[OUTPUT_TIME_SIZE], date[OUTPUT_TIME_SIZE];
	char			 rel[OUTPUT_TIME_SIZE + 8], used[OUTPUT_TIME_SIZE];
	char			 expires[2 * OUTPUT_TIME_SIZE + 16];
	char			 scopes[OUTPUT_SCOPES_SIZE];
	char			 name[TOKEND_NAME_SIZE + TOKEND_ID_SIZE + 16];
	unsigned		 skip = show_user ? 0 : 1;
	int64_t			 now = output_now();
	size_t			 i;
	int			 rc = -1;

	if ((t = output_table_new(7 - skip)) == NULL)
		return -1;
	if (output_table_add(t, header + skip) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		output_time_date(toks[i].created, created, sizeof(created));
		output_time_date(toks[i].expires, date, sizeof(date));
		cmd_list_expiry(toks[i].expires, now, rel, sizeof(rel));
		snprintf(expires, sizeof(expires), "%s (%s)", date, rel);
		output_time_relative(toks[i].last_used, now, used, sizeof(used));
		output_scopes(&toks[i], ",", scopes, sizeof(scopes));
		cells[0] = toks[i].user;
		cells[1] = toks[i].id;
		snprintf(name, sizeof(name), "%s%s%s%s", toks[i].name,
		    cmd_list_rotated(&toks[i]) ? " (rotated to " : "",
		    toks[i].parent, cmd_list_rotated(&toks[i]) ? ")" : "");
		cells[2] = name;
		cells[3] = created;
		cells[4] = expires;
		cells[5] = used;
		cells[6] = *scopes != '\0' ? scopes : "-";
		if (output_table_add(t, cells + skip) == -1)
			goto fail;
	}
	rc = output_table_print(t, stdout);
fail:
	output_table_free(t);
	return rc;
}

int
cmd_list(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	*toks = NULL;
	enum tokend_err		 err;
	const char		*user = NULL;
	int64_t			 now = output_now();
	size_t			 i, n = 0, shown = 0;
	int			 ch, all = 0, expired = 0, rc, written;

	while ((ch = getopt_long(argc, argv, ":", cmd_list_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "list");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_USER:
			if ((rc = tokenctl_opt_user("list", optarg, &user)) != 0)
				return rc;
			break;
		case TOKENCTL_OPT_ALL:
			all = 1;
			break;
		case TOKENCTL_OPT_EXPIRED:
			expired = 1;
			break;
		default:
			return tokenctl_getopt_error("list", ch, argv);
		}
	}
	if (optind != argc)
		return tokenctl_usage_error("list: unexpected argument %s",
		    tokenctl_safe_arg(argv[optind]));
	if (all && user != NULL)
		return tokenctl_usage_error("list: --user and --all exclude "
		    "each other");

	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	if ((err = tokend_token_list(conn, user, all, &toks, &n)) != TOKEND_OK) {
		rc = tokenctl_fail(conn, err, "list");
		goto done;
	}
	/* Expired tokens wait for the purge; they are shown on request. */
	for (i = 0; i < n; i++)
		if (expired || toks[i].expires > now)
			toks[shown++] = toks[i];
	if (opts->json)
		written = cmd_list_json(toks, shown);
	else if (shown == 0) {
		fprintf(stderr, "No tokens.\n");
		written = 0;
	} else
		written = cmd_list_table(toks, shown, all || user != NULL);
	if (!opts->json && shown < n)
		fprintf(stderr, "%zu expired token%s not shown (--expired shows "
		    "them).\n", n - shown, n - shown == 1 ? "" : "s");
	if (written == -1) {
		tokenctl_failx(TOKEND_E_IO, "list: cannot write the list");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	} else
		rc = TOKENCTL_EXIT_OK;
done:
	free(toks);
	tokend_conn_close(conn);
	return rc;
}

/* tokenctl show ID|NAME: what list says of one token, and its state. */
static int
cmd_show_print(const struct tokenctl_opts *opts, const struct tokend_token *t)
{
	struct json_object	*o;
	char			 created[OUTPUT_TIME_SIZE], expires[OUTPUT_TIME_SIZE];
	char			 used[OUTPUT_TIME_SIZE], rel[OUTPUT_TIME_SIZE + 8];
	char			 urel[OUTPUT_TIME_SIZE];
	char			 name[TOKEND_NAME_SIZE], user[TOKEND_USER_SIZE];
	char			 scopes[OUTPUT_SCOPES_SIZE];
	int64_t			 now = output_now();
	const char		*state = cmd_list_rotated(t) ? "rotated" :
				    t->expires > now ? "active" : "expired";
	int			 rc = -1;

	if (opts->json) {
		if ((o = json_object_new_object()) == NULL)
			return -1;
		if (cmd_list_json_token(o, t) == 0 &&
		    output_json_uint(o, "uid", t->uid) == 0 &&
		    output_json_string(o, "state", state) == 0)
			rc = output_json_print(o);
		json_object_put(o);
		return rc;
	}
	output_clean(t->name, name, sizeof(name));
	output_clean(t->user, user, sizeof(user));
	output_time_rfc3339(t->created, created, sizeof(created));
	output_time_rfc3339(t->expires, expires, sizeof(expires));
	cmd_list_expiry(t->expires, now, rel, sizeof(rel));
	output_scopes(t, " ", scopes, sizeof(scopes));
	printf("id:         %s\n"
	    "name:       %s\n"
	    "kind:       refresh\n"
	    "user:       %s (uid %u)\n",
	    t->id, name, user, (unsigned)t->uid);
	if (cmd_list_rotated(t))
		printf("state:      rotated, to %s; %s %s (%s)\n", t->parent,
		    t->expires > now ? "works until" : "refused since",
		    expires, rel);
	else
		printf("state:      %s\n", state);
	printf("created:    %s\n"
	    "expires:    %s (%s)\n", created, expires, rel);
	if (t->last_used == 0)
		printf("last used:  never\n");
	else {
		output_time_rfc3339(t->last_used, used, sizeof(used));
		output_time_relative(t->last_used, now, urel, sizeof(urel));
		printf("last used:  %s (%s)\n", used, urel);
	}
	printf("scopes:     %s\n", *scopes != '\0' ? scopes : "-");
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

/*
 * The options of show and rename: --help, --json, --user U.  -1 when the
 * command goes on (*user set), else the exit status.
 */
static int
cmd_ref_args(struct tokenctl_opts *opts, const char *cmd, int argc,
    char **argv, const char **user)
{
	int	ch, rc;

	*user = NULL;
	while ((ch = getopt_long(argc, argv, ":", cmd_show_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, cmd);
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_USER:
			if ((rc = tokenctl_opt_user(cmd, optarg, user)) != 0)
				return rc;
			break;
		default:
			return tokenctl_getopt_error(cmd, ch, argv);
		}
	}
	return -1;
}

int
cmd_show(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	 t;
	const char		*user;
	int			 rc;

	if ((rc = cmd_ref_args(opts, "show", argc, argv, &user)) != -1)
		return rc;
	if (optind == argc)
		return tokenctl_usage_error("show: a token id or name is needed");
	if (optind + 1 != argc)
		return tokenctl_usage_error("show: unexpected argument %s",
		    tokenctl_safe_arg(argv[optind + 1]));
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	if ((rc = tokenctl_find_token(conn, "show", user, argv[optind],
	    &t)) == 0 && cmd_show_print(opts, &t) == -1) {
		tokenctl_failx(TOKEND_E_IO, "show: cannot write the token");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	}
	tokend_conn_close(conn);
	return rc;
}

/* tokenctl rename ID|NAME NEWNAME: names stay unique per user. */
int
cmd_rename(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	struct tokend_token	 t;
	struct json_object	*o;
	enum tokend_err		 err;
	const char		*user, *newname;
	char			 what[TOKEND_NAME_SIZE + 16];
	char			 old[TOKEND_NAME_SIZE], new[TOKEND_NAME_SIZE];
	int			 rc;

	if ((rc = cmd_ref_args(opts, "rename", argc, argv, &user)) != -1)
		return rc;
	if (argc - optind != 2)
		return tokenctl_usage_error("rename: a token id or name and "
		    "the new name are needed");
	newname = argv[optind + 1];
	if (*newname == '\0' || strlen(newname) >= TOKEND_NAME_SIZE)
		return tokenctl_usage_error("rename: a name is 1 to %d bytes",
		    TOKEND_NAME_SIZE - 1);
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	if ((rc = tokenctl_find_token(conn, "rename", user, argv[optind],
	    &t)) != 0)
		goto done;
	if ((err = tokend_token_rename(conn, t.id, newname)) != TOKEND_OK) {
		snprintf(what, sizeof(what), "rename %s", t.id);
		rc = tokenctl_fail(conn, err, what);
		goto done;
	}
	output_clean(t.name, old, sizeof(old));
	output_clean(newname, new, sizeof(new));
	fprintf(stderr, "Renamed token %s from \"%s\" to \"%s\".\n", t.id,
	    old, new);
	if (opts->json) {
		rc = TOKENCTL_EXIT_UNREACHABLE;
		if ((o = json_object_new_object()) != NULL &&
		    output_json_string(o, "id", t.id) == 0 &&
		    output_json_string(o, "name", newname) == 0 &&
		    output_json_print(o) == 0)
			rc = TOKENCTL_EXIT_OK;
		json_object_put(o);
		if (rc != TOKENCTL_EXIT_OK)
			tokenctl_failx(TOKEND_E_IO, "rename: cannot write the "
			    "result");
	}
done:
	tokend_conn_close(conn);
	return rc;
}
