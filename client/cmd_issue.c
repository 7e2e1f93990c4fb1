/* SPDX-License-Identifier: ISC */
/*
 * tokenctl issue: authenticate through the daemon's PAM stack, relaying
 * each prompt to the user, and print the new refresh token once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "duration.h"
#include "tokenctl.h"

#define CMD_ISSUE_TEXT_MAX	1024	/* PAM messages are at most 512 bytes */

static const struct option cmd_issue_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "name",	required_argument,	NULL,	TOKENCTL_OPT_NAME },
	{ "expires",	required_argument,	NULL,	TOKENCTL_OPT_EXPIRES },
	{ "scope",	required_argument,	NULL,	TOKENCTL_OPT_SCOPE },
	{ "user",	required_argument,	NULL,	TOKENCTL_OPT_USER },
	{ "json-prompts", no_argument,		NULL,	TOKENCTL_OPT_JSON_PROMPTS },
	{ NULL,		0,			NULL,	0 }
};

/* PAM message styles as --json-prompts names them. */
static const char *
cmd_issue_style_name(int style)
{
	switch (style) {
	case TOKEND_PROMPT_ECHO_OFF:
		return "echo_off";
	case TOKEND_PROMPT_ECHO_ON:
		return "echo_on";
	case TOKEND_PROMPT_ERROR:
		return "error";
	case TOKEND_PROMPT_INFO:
		return "info";
	}
	return NULL;
}

/*
 * --json-prompts: one PAM message as {"conv":STYLE,"text":TEXT}, one line
 * on stdout, flushed before any answer is read.  0 or -1.
 */
static int
cmd_issue_json_message(int style, const char *text)
{
	struct json_object	*o;
	char			 clean[CMD_ISSUE_TEXT_MAX];
	int			 rc = -1;

	output_clean(text, clean, sizeof(clean));
	if ((o = json_object_new_object()) == NULL)
		return -1;
	if (output_json_string(o, "conv", cmd_issue_style_name(style)) == 0 &&
	    output_json_string(o, "text", clean) == 0)
		rc = output_json_print(o);
	json_object_put(o);
	return rc;
}

/* PAM info and error text on stderr, line by line, control characters cleaned. */
static void
cmd_issue_text(const char *text)
{
	char	line[CMD_ISSUE_TEXT_MAX], clean[CMD_ISSUE_TEXT_MAX];
	size_t	n;

	do {
		n = strcspn(text, "\n");
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, text, n);
		line[n] = '\0';
		output_clean(line, clean, sizeof(clean));
		fprintf(stderr, "%s\n", clean);
		text += n;
		if (*text == '\n')
			text++;
	} while (*text != '\0');
	fflush(stderr);
}

int
tokenctl_conv(int n, const struct tokend_prompt *msgs, char **answers,
    void *arg)
{
	struct tokenctl_conv	*cv = arg;
	const char		*cause = NULL;
	char			 text[CMD_ISSUE_TEXT_MAX];
	int			 i, rc;

	for (i = 0; i < n; i++) {
		if (msgs[i].style == TOKEND_PROMPT_SECRET) {
			if (cv->secret == NULL) {
				cause = "the daemon sent a secret where none "
				    "belongs";
				goto fail;
			}
			if (cv->secret(msgs[i].text, cv->secret_arg) == -1) {
				cause = "cannot write to standard output";
				goto fail;
			}
			continue;
		}
		if (cmd_issue_style_name(msgs[i].style) == NULL) {
			cause = "unknown kind of PAM message";
			goto fail;
		}
		if (cv->json && cmd_issue_json_message(msgs[i].style,
		    msgs[i].text) == -1) {
			cause = "cannot write to standard output";
			goto fail;
		}
		switch (msgs[i].style) {
		case TOKEND_PROMPT_ERROR:
		case TOKEND_PROMPT_INFO:
			if (!cv->json)
				cmd_issue_text(msgs[i].text);
			break;
		case TOKEND_PROMPT_ECHO_OFF:
		case TOKEND_PROMPT_ECHO_ON:
			output_clean(msgs[i].text, text, sizeof(text));
			rc = prompt_read(cv->json ? NULL : text,
			    msgs[i].style == TOKEND_PROMPT_ECHO_ON,
			    &answers[i], &cause);
			if (rc == 1)
				cause = "no answer for PAM prompt";
			if (rc != 0)
				goto fail;
			break;
		}
	}
	return 0;
fail:
	cv->cause = cause;
	for (i = 0; i < n; i++) {
		prompt_free(answers[i]);
		answers[i] = NULL;
	}
	return -1;
}

int
tokenctl_conv_fail(const struct tokend_conn *conn, enum tokend_err err,
    const struct tokenctl_conv *cv, const char *what)
{
	if (err == TOKEND_E_ABORTED && cv->cause != NULL) {
		tokenctl_failx(err, "%s: %s", what, cv->cause);
		return TOKENCTL_EXIT_REFUSED;
	}
	return tokenctl_fail(conn, err, what);
}

/* The once-only warning and what was issued, on stderr. */
static void
cmd_issue_report(const char *what, const struct tokend_token *info,
    int64_t now)
{
	char	name[TOKEND_NAME_SIZE], user[TOKEND_USER_SIZE];
	char	scopes[OUTPUT_SCOPES_SIZE], exp[OUTPUT_TIME_SIZE];
	char	rel[OUTPUT_TIME_SIZE];

	output_clean(info->name, name, sizeof(name));
	output_clean(info->user, user, sizeof(user));
	output_scopes(info, ",", scopes, sizeof(scopes));
	output_time_rfc3339(info->expires, exp, sizeof(exp));
	output_time_relative(info->expires, now, rel, sizeof(rel));
	fflush(stdout);
	fprintf(stderr, "%s token %s \"%s\" for %s%s%s%s, expires %s (%s).\n",
	    what, info->id, name, user, *scopes != '\0' ? " (scopes: " : "", scopes,
	    *scopes != '\0' ? ")" : "", exp, rel);
	fprintf(stderr, "Save this token now: it cannot be shown again.\n");
	fflush(stderr);
}

static int
cmd_issue_print(const struct tokenctl_opts *opts, const char *token,
    const struct tokend_token *info)
{
	struct json_object	*rest = NULL;
	int			 rc = -1;

	if (!opts->json)
		return output_secret_line(token);
	if ((rest = json_object_new_object()) == NULL)
		goto fail;
	if (output_json_string(rest, "id", info->id) == -1 ||
	    output_json_string(rest, "name", info->name) == -1 ||
	    output_json_time(rest, "expires", info->expires, 0) == -1 ||
	    output_json_scopes(rest, "scopes", info) == -1)
		goto fail;
	rc = output_json_secret("token", token, rest);
fail:
	json_object_put(rest);
	return rc;
}

int
cmd_issue(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_issue_req	 req;
	struct tokenctl_scopes	 scopes;
	struct tokenctl_conv	 cv;
	struct tokend_token	 info;
	struct tokend_conn	*conn = NULL;
	enum tokend_err		 err;
	char			 token[TOKEND_TOKEN_SIZE];
	int64_t			 secs, t;
	int			 ch, rc;

	memset(&req, 0, sizeof(req));
	memset(&scopes, 0, sizeof(scopes));
	memset(&cv, 0, sizeof(cv));
	memset(&info, 0, sizeof(info));
	memset(token, 0, sizeof(token));

	while ((ch = getopt_long(argc, argv, ":", cmd_issue_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "issue");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_NAME:
			if (*optarg == '\0' ||
			    strlen(optarg) >= TOKEND_NAME_SIZE)
				return tokenctl_usage_error("issue: --name "
				    "must be 1 to %d bytes", TOKEND_NAME_SIZE - 1);
			req.name = optarg;
			break;
		case TOKENCTL_OPT_EXPIRES:
			/* A lifetime counts from the issue, not from now. */
			if (tokenctl_parse_duration(optarg, &secs) == 0)
				t = -secs;
			else if (tokenctl_parse_time(optarg, &t) == -1)
				return tokenctl_usage_error("issue: bad --expires "
				    "%s (use e.g. 30d, 12h, 2027-01-31 or "
				    "2027-01-31T12:00:00Z)",
				    tokenctl_safe_arg(optarg));
			req.expires = t;
			break;
		case TOKENCTL_OPT_SCOPE:
			if ((rc = tokenctl_add_scope(&scopes, "issue",
			    optarg)) != 0)
				return rc;
			break;
		case TOKENCTL_OPT_USER:
			if ((rc = tokenctl_opt_user("issue", optarg,
			    &req.user)) != 0)
				return rc;
			break;
		case TOKENCTL_OPT_JSON_PROMPTS:
			opts->json = 1;
			cv.json = 1;
			break;
		default:
			return tokenctl_getopt_error("issue", ch, argv);
		}
	}
	if (optind != argc)
		return tokenctl_usage_error("issue: unexpected argument %s",
		    tokenctl_safe_arg(argv[optind]));
	req.scopes = scopes.v;
	req.nscopes = scopes.n;

	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	prompt_watch(tokend_conn_fd(conn));
	err = tokend_token_issue(conn, &req, tokenctl_conv, &cv, token,
	    &info);
	prompt_watch(-1);
	if (err != TOKEND_OK) {
		rc = tokenctl_conv_fail(conn, err, &cv, "issue");
		goto done;
	}

	cmd_issue_report("Issued", &info, output_now());
	if (cmd_issue_print(opts, token, &info) == -1) {
		tokenctl_failx(TOKEND_E_IO, "issue: token %s was issued but "
		    "could not be written to standard output; delete it",
		    info.id);
		rc = TOKENCTL_EXIT_UNREACHABLE;
		goto done;
	}
	rc = TOKENCTL_EXIT_OK;
done:
	tokend_wipe(token, sizeof(token));
	tokend_conn_close(conn);
	return rc;
}

static const struct option cmd_rotate_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "overlap",	required_argument,	NULL,	TOKENCTL_OPT_OVERLAP },
	{ "token-file",	required_argument,	NULL,	TOKENCTL_OPT_TOKEN_FILE },
	{ NULL,		0,			NULL,	0 }
};

/*
 * tokenctl rotate: the refresh token on stdin (or in --token-file) is the
 * credential; its successor is printed once.
 */
int
cmd_rotate(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_token	 info;
	struct tokend_conn	*conn = NULL;
	enum tokend_err		 err;
	const char		*token_file = NULL, *cause = NULL;
	char			 token[TOKEND_TOKEN_SIZE], *refresh = NULL;
	char			 until[OUTPUT_TIME_SIZE], rel[OUTPUT_TIME_SIZE];
	int64_t			 secs, overlap = 0, now;
	int			 ch, rc;

	memset(&info, 0, sizeof(info));
	memset(token, 0, sizeof(token));
	while ((ch = getopt_long(argc, argv, ":", cmd_rotate_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "rotate");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_OVERLAP:
			if (duration_parse(optarg, &secs) == -1 ||
			    secs > UINT32_MAX)
				return tokenctl_usage_error("rotate: bad "
				    "--overlap %s (" DURATION_UNITS ")",
				    tokenctl_safe_arg(optarg));
			overlap = secs;
			break;
		case TOKENCTL_OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		default:
			return tokenctl_getopt_error("rotate", ch, argv);
		}
	}
	if (optind != argc)
		return tokenctl_usage_error("rotate: unexpected argument %s",
		    tokenctl_safe_arg(argv[optind]));
	if (token_file != NULL) {
		if (credcache_read_file(token_file, &refresh, &cause) == -1) {
			tokenctl_failx(TOKEND_E_ARG, "rotate: --token-file "
			    "%s: %s", tokenctl_safe_arg(token_file), cause);
			return TOKENCTL_EXIT_USAGE;
		}
	} else if ((rc = tokenctl_read_token("rotate", "Refresh token: ",
	    &refresh)) != 0)
		return rc;
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		goto done;
	err = tokend_token_rotate(conn, refresh, (uint32_t)overlap, token,
	    &info);
	if (err != TOKEND_OK) {
		rc = tokenctl_fail(conn, err, "rotate");
		goto done;
	}
	now = output_now();
	cmd_issue_report("Rotated: new", &info, now);
	output_time_rfc3339(now + overlap, until, sizeof(until));
	output_time_relative(now + overlap, now, rel, sizeof(rel));
	fprintf(stderr, overlap > 0 ? "The old token works until %s (%s), "
	    "then is refused; used after that, it and this one are revoked.\n"
	    : "The old token no longer works; used again, it and this one "
	    "are revoked.\n", until, rel);
	if (cmd_issue_print(opts, token, &info) == -1) {
		tokenctl_failx(TOKEND_E_IO, "rotate: cannot write the token");
		rc = TOKENCTL_EXIT_UNREACHABLE;
	}
done:
	prompt_free(refresh);
	tokend_wipe(token, sizeof(token));
	tokend_conn_close(conn);
	return rc;
}
