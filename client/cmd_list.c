/* SPDX-License-Identifier: ISC */
/*
 * tokenctl list: the caller's refresh tokens, one user's or everybody's,
 * as a table or a JSON array.
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
	{ NULL,		0,			NULL,	0 }
};

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
		if (output_json_string(o, "id", toks[i].id) == -1 ||
		    output_json_string(o, "user", toks[i].user) == -1 ||
		    output_json_string(o, "name", toks[i].name) == -1 ||
		    output_json_time(o, "created", toks[i].created, 0) == -1 ||
		    output_json_time(o, "expires", toks[i].expires, 0) == -1 ||
		    output_json_time(o, "last_used", toks[i].last_used, 1) == -1 ||
		    output_json_scopes(o, "scopes", &toks[i]) == -1)
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
	char			 rel[OUTPUT_TIME_SIZE], used[OUTPUT_TIME_SIZE];
	char			 expires[2 * OUTPUT_TIME_SIZE + 4];
	char			 scopes[OUTPUT_SCOPES_SIZE];
	unsigned		 skip = show_user ? 0 : 1;
	int64_t			 now = (int64_t)time(NULL);
	size_t			 i;
	int			 rc = -1;

	if ((t = output_table_new(7 - skip)) == NULL)
		return -1;
	if (output_table_add(t, header + skip) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		output_time_date(toks[i].created, created, sizeof(created));
		output_time_date(toks[i].expires, date, sizeof(date));
		output_time_relative(toks[i].expires, now, rel, sizeof(rel));
		snprintf(expires, sizeof(expires), "%s (%s)", date, rel);
		output_time_relative(toks[i].last_used, now, used, sizeof(used));
		output_scopes(&toks[i], ",", scopes, sizeof(scopes));
		cells[0] = toks[i].user;
		cells[1] = toks[i].id;
		cells[2] = toks[i].name;
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
	size_t			 n = 0;
	int			 ch, all = 0, rc, written;

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
			if (*optarg == '\0' ||
			    strlen(optarg) >= TOKEND_USER_SIZE)
				return tokenctl_usage_error("list: bad --user");
			user = optarg;
			break;
		case TOKENCTL_OPT_ALL:
			all = 1;
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
	if (opts->json)
		written = cmd_list_json(toks, n);
	else if (n == 0) {
		fprintf(stderr, "No tokens.\n");
		written = 0;
	} else
		written = cmd_list_table(toks, n, all || user != NULL);
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
