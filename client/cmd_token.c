/* SPDX-License-Identifier: ISC */
/*
 * tokenctl exchange, verify and status: the commands that use a token
 * read from stdin (never from argv), and the daemon's status.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "duration.h"
#include "tokenctl.h"

#define CMD_TOKEN_NCOUNTERS \
	(sizeof(((struct tokend_status *)0)->counters) / \
	    sizeof(((struct tokend_status *)0)->counters[0]))

static const struct option cmd_token_exchange_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "scope",	required_argument,	NULL,	TOKENCTL_OPT_SCOPE },
	{ "lifetime",	required_argument,	NULL,	TOKENCTL_OPT_LIFETIME },
	{ "token-file",	required_argument,	NULL,	TOKENCTL_OPT_TOKEN_FILE },
	{ "cache",	no_argument,		NULL,	TOKENCTL_OPT_CACHE },
	{ NULL,		0,			NULL,	0 }
};

/* verify and status take only the common options. */
static const struct option cmd_token_plain_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ NULL,		0,			NULL,	0 }
};

/* Parse --help/--json and refuse arguments; -1 to go on, else an exit status. */
static int
cmd_token_plain_args(struct tokenctl_opts *opts, const char *cmd, int argc,
    char **argv)
{
	int	ch;

	while ((ch = getopt_long(argc, argv, ":", cmd_token_plain_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, cmd);
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		default:
			return tokenctl_getopt_error(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return tokenctl_usage_error("%s: unexpected argument %s", cmd,
		    tokenctl_safe_arg(argv[optind]));
	return -1;
}

/* Read the token from stdin; 0 or an exit status (reported). */
int
tokenctl_read_token(const char *cmd, const char *prompt, char **token)
{
	const char	*cause = NULL;

	switch (prompt_token(prompt, token, &cause)) {
	case 0:
		return 0;
	case 1:
		/* Nothing to send: the command was used wrongly (usage). */
		tokenctl_failx(TOKEND_E_ARG, "%s: no token on standard input "
		    "(pipe it in, e.g. tokenctl %s < token-file)", cmd, cmd);
		return TOKENCTL_EXIT_USAGE;
	default:
		tokenctl_failx(TOKEND_E_ABORTED, "%s: %s", cmd, cause);
		return TOKENCTL_EXIT_REFUSED;
	}
}

static int
cmd_token_exchange_print(const struct tokenctl_opts *opts,
    const struct credcache_entry *e)
{
	struct json_object	*rest = NULL;
	const char		*access = e->access, *scope = e->scope;
	int64_t			 left;
	int			 rc = -1;

	if (!opts->json)
		return output_secret_line(access);
	left = e->expires - output_now();
	if ((rest = json_object_new_object()) == NULL)
		goto fail;
	if (output_json_string(rest, "token_type", "Bearer") == -1 ||
	    output_json_int(rest, "expires_in", left > 0 ? left : 0) == -1 ||
	    output_json_string(rest, "scope", scope) == -1)
		goto fail;
	rc = output_json_secret("access_token", access, rest);
fail:
	json_object_put(rest);
	return rc;
}

int
cmd_token_exchange(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokenctl_scopes	 scopes;
	struct tokend_token	 info;
	struct credcache_entry	 e;
	struct tokend_conn	*conn = NULL;
	enum tokend_err		 err;
	const char		*token_file = NULL, *cause = NULL;
	char			*refresh = NULL;
	int64_t			 secs;
	uint32_t		 lifetime = 0;
	int			 ch, rc, cache = 0;

	memset(&scopes, 0, sizeof(scopes));
	memset(&info, 0, sizeof(info));
	memset(&e, 0, sizeof(e));
	while ((ch = getopt_long(argc, argv, ":", cmd_token_exchange_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "exchange");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_SCOPE:
			if ((rc = tokenctl_add_scope(&scopes, "exchange",
			    optarg)) != 0)
				return rc;
			break;
		case TOKENCTL_OPT_LIFETIME:
			if (tokenctl_parse_duration(optarg, &secs) == -1 ||
			    secs > UINT32_MAX)
				return tokenctl_usage_error("exchange: bad "
				    "--lifetime %s (" DURATION_UNITS ")",
				    tokenctl_safe_arg(optarg));
			lifetime = (uint32_t)secs;
			break;
		case TOKENCTL_OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case TOKENCTL_OPT_CACHE:
			cache = 1;
			break;
		default:
			return tokenctl_getopt_error("exchange", ch, argv);
		}
	}
	if (optind != argc)
		return tokenctl_usage_error("exchange: unexpected argument %s",
		    tokenctl_safe_arg(argv[optind]));

	if (token_file != NULL) {
		if (credcache_read_file(token_file, &refresh, &cause) == -1) {
			tokenctl_failx(TOKEND_E_ARG, "exchange: --token-file "
			    "%s: %s", tokenctl_safe_arg(token_file), cause);
			return TOKENCTL_EXIT_USAGE;
		}
	} else if ((rc = tokenctl_read_token("exchange", "Refresh token: ",
	    &refresh)) != 0)
		return rc;
	rc = 0;
	if (cache) {
		rc = credcache_get(refresh, scopes.v, scopes.n, lifetime,
		    output_now(), &e, &cause);
		if (rc == -1) {
			tokenctl_failx(TOKEND_E_ARG, "exchange: %s", cause);
			rc = TOKENCTL_EXIT_USAGE;
			goto done;
		}
	}
	if (rc == 0) {
		if ((rc = tokenctl_connect(opts, &conn)) != 0)
			goto done;
		err = tokend_token_exchange(conn, refresh, scopes.v, scopes.n,
		    lifetime, e.access, &info);
		if (err != TOKEND_OK) {
			rc = tokenctl_fail(conn, err, "exchange");
			goto done;
		}
		e.expires = info.expires;
		output_scopes(&info, " ", e.scope, sizeof(e.scope));
		/* A cache that cannot be written costs speed, not the answer. */
		if (cache && credcache_put(refresh, scopes.v, scopes.n,
		    lifetime, &e, &cause) == -1)
			tokenctl_warnx("exchange: cannot cache the access token: "
			    "%s", cause);
	}
	rc = TOKENCTL_EXIT_OK;
	if (cmd_token_exchange_print(opts, &e) == -1) {
		tokenctl_failx(TOKEND_E_IO,
		    "exchange: cannot write the access token");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	}
done:
	prompt_free(refresh);
	tokend_wipe(&e, sizeof(e));
	tokend_conn_close(conn);
	return rc;
}

static const char *
cmd_token_kind(int kind, int json)
{
	switch (kind) {
	case TOKEND_KIND_REFRESH:
		return json ? "refresh_token" : "refresh";
	case TOKEND_KIND_ACCESS:
		return json ? "access_token" : "access";
	}
	return "unknown";
}

/* RFC 7662 introspection answer; {"active":false} alone when inactive. */
static int
cmd_token_verify_json(int active, const struct tokend_token *info)
{
	struct json_object	*o;
	char			 scope[OUTPUT_SCOPES_SIZE];
	int			 rc = -1;

	if ((o = json_object_new_object()) == NULL)
		return -1;
	if (output_json_bool(o, "active", active) == -1)
		goto fail;
	if (active) {
		output_scopes(info, " ", scope, sizeof(scope));
		if (output_json_string(o, "sub", info->user) == -1 ||
		    output_json_int(o, "uid", info->uid) == -1 ||
		    output_json_int(o, "exp", info->expires) == -1 ||
		    output_json_int(o, "iat", info->created) == -1 ||
		    output_json_string(o, "scope", scope) == -1 ||
		    output_json_string(o, "token_type",
		    cmd_token_kind(info->kind, 1)) == -1 ||
		    output_json_string(o, "jti", info->id) == -1)
			goto fail;
	}
	rc = output_json_print(o);
fail:
	json_object_put(o);
	return rc;
}

static int
cmd_token_verify_text(int active, const struct tokend_token *info)
{
	char	user[TOKEND_USER_SIZE], name[TOKEND_NAME_SIZE];
	char	scopes[OUTPUT_SCOPES_SIZE], iat[OUTPUT_TIME_SIZE];
	char	exp[OUTPUT_TIME_SIZE], rel[OUTPUT_TIME_SIZE];

	if (!active) {
		puts("inactive");
		return ferror(stdout) ? -1 : 0;
	}
	output_clean(info->user, user, sizeof(user));
	output_clean(info->name, name, sizeof(name));
	output_scopes(info, ",", scopes, sizeof(scopes));
	output_time_rfc3339(info->created, iat, sizeof(iat));
	output_time_rfc3339(info->expires, exp, sizeof(exp));
	output_time_relative(info->expires, output_now(), rel,
	    sizeof(rel));
	printf("active\n");
	printf("user: %s\n", user);
	printf("uid: %" PRIu32 "\n", info->uid);
	printf("kind: %s\n", cmd_token_kind(info->kind, 0));
	printf("id: %s\n", info->id);
	if (*info->parent != '\0')
		printf("parent: %s\n", info->parent);
	if (*name != '\0')
		printf("name: %s\n", name);
	printf("issued: %s\n", iat);
	printf("expires: %s (%s)\n", exp, rel);
	printf("scopes: %s\n", *scopes != '\0' ? scopes : "-");
	return ferror(stdout) ? -1 : 0;
}

int
cmd_token_verify(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_token	 info;
	struct tokend_conn	*conn = NULL;
	enum tokend_err		 err;
	char			*token = NULL;
	int			 active = 0, rc, written;

	if ((rc = cmd_token_plain_args(opts, "verify", argc, argv)) != -1)
		return rc;
	if ((rc = tokenctl_read_token("verify", "Token: ", &token)) != 0)
		return rc;
	memset(&info, 0, sizeof(info));
	/* Connect first: an unreachable daemon is exit 3 whatever the token. */
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		goto done;
	err = tokend_token_verify(conn, token, &active, &info);
	if (err == TOKEND_E_FORMAT) {
		/* A malformed token is inactive; the daemon was not asked. */
		active = 0;
		err = TOKEND_OK;
	}
	if (err != TOKEND_OK) {
		rc = tokenctl_fail(conn, err, "verify");
		goto done;
	}
	if (opts->json)
		written = cmd_token_verify_json(active, &info);
	else
		written = cmd_token_verify_text(active, &info);
	if (written == -1) {
		tokenctl_failx(TOKEND_E_IO, "verify: cannot write the result");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	} else if (active)
		rc = TOKENCTL_EXIT_OK;
	else {
		tokenctl_warnx("verify: the token is not active");
		rc = TOKENCTL_EXIT_REFUSED;
	}
done:
	prompt_free(token);
	tokend_conn_close(conn);
	return rc;
}

static int
cmd_token_status_text(const struct tokend_status *st)
{
	char		key[sizeof(st->counters[0].key)];
	char		version[sizeof(st->version)];
	unsigned	i;

	output_clean(st->version, version, sizeof(version));
	printf("version: %s\n", version);
	printf("healthy: %s\n", st->healthy ? "yes" : "no");
	/* Admins see the counters, and from them the store in a line. */
	for (i = 0; i < st->n && i < CMD_TOKEN_NCOUNTERS; i++)
		if (strcmp(st->counters[i].key, "fleet_connected") == 0)
			break;
	if (i < st->n && i < CMD_TOKEN_NCOUNTERS)
		printf("store: postgresql (fleet mode), %s\n",
		    st->counters[i].value ? "connected" : "not connected");
	else if (st->n > 0)
		printf("store: lmdb (this host)\n");
	for (i = 0; i < st->n && i < CMD_TOKEN_NCOUNTERS; i++) {
		output_clean(st->counters[i].key, key, sizeof(key));
		printf("%s: %" PRIu64 "\n", key, st->counters[i].value);
	}
	return ferror(stdout) ? -1 : 0;
}

static int
cmd_token_status_json(const struct tokend_status *st)
{
	struct json_object	*o;
	unsigned		 i;
	int			 rc = -1;

	if ((o = json_object_new_object()) == NULL)
		return -1;
	if (output_json_string(o, "version", st->version) == -1 ||
	    output_json_bool(o, "healthy", st->healthy) == -1)
		goto fail;
	for (i = 0; i < st->n && i < CMD_TOKEN_NCOUNTERS; i++) {
		if (strcmp(st->counters[i].key, "version") == 0 ||
		    strcmp(st->counters[i].key, "healthy") == 0)
			continue;
		if (output_json_uint(o, st->counters[i].key,
		    st->counters[i].value) == -1)
			goto fail;
	}
	rc = output_json_print(o);
fail:
	json_object_put(o);
	return rc;
}

int
cmd_token_status(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_status	*st = NULL;
	struct tokend_conn	*conn = NULL;
	enum tokend_err		 err;
	int			 rc, written;

	if ((rc = cmd_token_plain_args(opts, "status", argc, argv)) != -1)
		return rc;
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = tokenctl_fail(conn, TOKEND_E_NOMEM, "status");
		goto done;
	}
	if ((err = tokend_status_get(conn, st)) != TOKEND_OK) {
		rc = tokenctl_fail(conn, err, "status");
		goto done;
	}
	if (opts->json)
		written = cmd_token_status_json(st);
	else
		written = cmd_token_status_text(st);
	if (written == -1) {
		tokenctl_failx(TOKEND_E_IO, "status: cannot write the status");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	} else
		rc = TOKENCTL_EXIT_OK;
done:
	free(st);
	tokend_conn_close(conn);
	return rc;
}

/* tokenctl unlock USER: an admin forgets a user's recent failures. */
int
cmd_unlock(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	struct json_object	*o;
	enum tokend_err		 err;
	const char		*user;
	char			 who[TOKEND_USER_SIZE], what[TOKEND_USER_SIZE + 8];
	int			 ch, rc, was = 0;

	while ((ch = getopt_long(argc, argv, ":", cmd_token_plain_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "unlock");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		default:
			return tokenctl_getopt_error("unlock", ch, argv);
		}
	}
	if (argc - optind != 1)
		return tokenctl_usage_error("unlock: one user name is needed");
	user = argv[optind];
	if (*user == '\0' || strlen(user) >= TOKEND_USER_SIZE)
		return tokenctl_usage_error("unlock: bad user name");
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	output_clean(user, who, sizeof(who));
	if ((err = tokend_user_unlock(conn, user, &was)) != TOKEND_OK) {
		snprintf(what, sizeof(what), "unlock %s", who);
		rc = tokenctl_fail(conn, err, what);
		goto done;
	}
	fprintf(stderr, was ? "Unlocked %s: their failed attempts are "
	    "forgotten.\n" : "%s was not locked out; their failed attempts "
	    "are forgotten.\n", who);
	rc = TOKENCTL_EXIT_OK;
	if (opts->json) {
		rc = TOKENCTL_EXIT_UNREACHABLE;
		if ((o = json_object_new_object()) != NULL &&
		    output_json_string(o, "user", user) == 0 &&
		    output_json_bool(o, "was_locked", was) == 0 &&
		    output_json_print(o) == 0)
			rc = TOKENCTL_EXIT_OK;
		json_object_put(o);
		if (rc != TOKENCTL_EXIT_OK)
			tokenctl_failx(TOKEND_E_IO, "unlock: cannot write the "
			    "result");
	}
done:
	tokend_conn_close(conn);
	return rc;
}
