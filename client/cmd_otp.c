/* SPDX-License-Identifier: ISC */
/*
 * tokenctl otp enroll | status | remove: one-time codes from an
 * authenticator app.  The daemon makes the secret and keeps it (root's
 * otp_dir); this side only shows it: the otpauth:// URI alone on stdout,
 * and a QR code on stderr when that is a terminal.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <qrencode.h>

#include "tokenctl.h"

#define CMD_OTP_QUIET	2	/* light modules around the code */

static const struct option cmd_otp_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "user",	required_argument,	NULL,	TOKENCTL_OPT_USER },
	{ "yes",	no_argument,		NULL,	TOKENCTL_OPT_YES },
	{ NULL,		0,			NULL,	0 }
};

/* Whether the terminal takes UTF-8 (the half-block characters). */
static int
cmd_otp_utf8(void)
{
	const char	*v;

	if ((v = getenv("LC_ALL")) == NULL || *v == '\0')
		if ((v = getenv("LC_CTYPE")) == NULL || *v == '\0')
			v = getenv("LANG");
	return v != NULL && (strcasestr(v, "UTF-8") != NULL ||
	    strcasestr(v, "utf8") != NULL);
}

static int
cmd_otp_dark(const QRcode *qr, int x, int y)
{
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return 0;
	return qr->data[y * qr->width + x] & 1;
}

/*
 * Draw the QR code on stderr in dark on light whatever the terminal's
 * colours (phone cameras want that): on UTF-8 terminals two modules per
 * character cell (upper half block, foreground the upper module,
 * background the lower one), elsewhere two spaces per module.
 */
static void
cmd_otp_qr(const char *uri)
{
	QRcode	*qr;
	int	 x, y, lo, hi, utf8 = cmd_otp_utf8();

	if ((qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_L, QR_MODE_8, 1)) ==
	    NULL)
		return;
	lo = -CMD_OTP_QUIET;
	hi = qr->width + CMD_OTP_QUIET;
	for (y = lo; y < hi; y += utf8 ? 2 : 1) {
		for (x = lo; x < hi; x++) {
			if (utf8)
				fprintf(stderr, "\033[%d;%dm\u2580",
				    cmd_otp_dark(qr, x, y) ? 30 : 97,
				    cmd_otp_dark(qr, x, y + 1) ? 40 : 107);
			else
				fprintf(stderr, "\033[%dm  ",
				    cmd_otp_dark(qr, x, y) ? 40 : 107);
		}
		fputs("\033[0m\n", stderr);
	}
	QRcode_free(qr);
}

/* The new secret: alone on stdout (flushed), as a QR code on a terminal. */
static int
cmd_otp_secret(const char *uri, void *arg)
{
	(void)arg;
	if (strncmp(uri, "otpauth://", 10) != 0)
		return -1;
	if (output_secret_line(uri) == -1)
		return -1;
	if (isatty(STDERR_FILENO)) {
		fputs("\nScan this code with your authenticator app (or add "
		    "the otpauth:// line above by hand):\n\n", stderr);
		cmd_otp_qr(uri);
		fputc('\n', stderr);
	} else
		fputs("Add the otpauth:// line on standard output to your "
		    "authenticator app.\n", stderr);
	fflush(stderr);
	return 0;
}

/* The caller's own name, for messages and --json. */
static void
cmd_otp_self(char *buf, size_t size)
{
	struct passwd	*pw = getpwuid(getuid());

	snprintf(buf, size, "%s", pw != NULL ? pw->pw_name : "you");
}

static int
cmd_otp_json(const char *user, const struct tokend_otp_status *st)
{
	struct json_object	*o;
	int			 rc = -1;

	if ((o = json_object_new_object()) != NULL &&
	    output_json_string(o, "user", user) == 0 &&
	    output_json_bool(o, "enrolled", st->enrolled) == 0 &&
	    output_json_time(o, "updated", st->since, 1) == 0 &&
	    output_json_print(o) == 0)
		rc = 0;
	json_object_put(o);
	if (rc == -1)
		tokenctl_failx(TOKEND_E_IO, "otp: cannot write the result");
	return rc == 0 ? TOKENCTL_EXIT_OK : TOKENCTL_EXIT_UNREACHABLE;
}

static int
cmd_otp_enroll(struct tokenctl_opts *opts, struct tokend_conn *conn,
    const char *self)
{
	struct tokenctl_conv		cv;
	struct tokend_otp_status	st;
	enum tokend_err			err;

	memset(&cv, 0, sizeof(cv));
	cv.secret = cmd_otp_secret;
	if ((err = tokend_otp_enroll(conn, tokenctl_conv, &cv, &st)) !=
	    TOKEND_OK)
		return tokenctl_conv_fail(conn, err, &cv, "otp enroll");
	fprintf(stderr, "Enrolled %s for one-time codes. Where this host asks "
	    "for a one-time code, type the one your app shows.\n", self);
	return opts->json ? cmd_otp_json(self, &st) : TOKENCTL_EXIT_OK;
}

static int
cmd_otp_status(struct tokenctl_opts *opts, struct tokend_conn *conn,
    const char *user, const char *who)
{
	struct tokend_otp_status	st;
	enum tokend_err			err;
	char				since[OUTPUT_TIME_SIZE];

	if ((err = tokend_otp_status(conn, user, &st)) != TOKEND_OK)
		return tokenctl_fail(conn, err, "otp status");
	if (opts->json)
		return cmd_otp_json(who, &st);
	if (st.enrolled) {
		output_time_rfc3339(st.since, since, sizeof(since));
		printf("%s is enrolled for one-time codes (secret file last "
		    "written %s).\n", who, since);
	} else
		printf("%s is not enrolled for one-time codes.\n", who);
	return TOKENCTL_EXIT_OK;
}

static int
cmd_otp_remove(struct tokenctl_opts *opts, struct tokend_conn *conn,
    const char *user, const char *who, int yes)
{
	struct tokenctl_conv		cv;
	struct tokend_otp_status	st;
	enum tokend_err			err;
	char				 question[TOKEND_USER_SIZE + 256];
	int				 rc;

	memset(&cv, 0, sizeof(cv));
	if (user != NULL && !yes) {
		snprintf(question, sizeof(question), "Remove the one-time-code "
		    "enrolment of %s? Their authenticator app stops working "
		    "here until they enrol again. Type yes to remove: ", who);
		if ((rc = tokenctl_confirm("otp remove", question,
		    "removed")) != 0)
			return rc;
	}
	if ((err = tokend_otp_remove(conn, user, tokenctl_conv, &cv, &st)) !=
	    TOKEND_OK)
		return tokenctl_conv_fail(conn, err, &cv, "otp remove");
	fprintf(stderr, "Removed the one-time-code enrolment of %s.\n", who);
	return opts->json ? cmd_otp_json(who, &st) : TOKENCTL_EXIT_OK;
}

int
cmd_otp(struct tokenctl_opts *opts, int argc, char **argv)
{
	struct tokend_conn	*conn = NULL;
	const char		*user = NULL, *sub;
	char			 self[TOKEND_USER_SIZE], who[TOKEND_USER_SIZE];
	int			 ch, rc, yes = 0;

	while ((ch = getopt_long(argc, argv, ":", cmd_otp_longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case TOKENCTL_OPT_HELP:
			tokenctl_command_usage(stdout, "otp");
			return TOKENCTL_EXIT_OK;
		case TOKENCTL_OPT_JSON:
			opts->json = 1;
			break;
		case TOKENCTL_OPT_USER:
			if ((rc = tokenctl_opt_user("otp", optarg, &user)) != 0)
				return rc;
			break;
		case TOKENCTL_OPT_YES:
			yes = 1;
			break;
		default:
			return tokenctl_getopt_error("otp", ch, argv);
		}
	}
	if (argc - optind != 1)
		return tokenctl_usage_error("otp: say enroll, status or remove");
	sub = argv[optind];
	if (strcmp(sub, "enroll") != 0 && strcmp(sub, "status") != 0 &&
	    strcmp(sub, "remove") != 0)
		return tokenctl_usage_error("otp: unknown command %s (enroll, "
		    "status or remove)", sub);
	if (strcmp(sub, "enroll") == 0 && user != NULL)
		return tokenctl_usage_error("otp enroll: no --user: users "
		    "enrol themselves, with their own phone");
	if (strcmp(sub, "remove") != 0 && yes)
		return tokenctl_usage_error("otp %s: --yes is for remove", sub);
	cmd_otp_self(self, sizeof(self));
	if (user != NULL && strcmp(user, self) == 0)
		user = NULL;	/* one's own: the same as no --user */
	output_clean(user != NULL ? user : self, who, sizeof(who));
	if ((rc = tokenctl_connect(opts, &conn)) != 0)
		return rc;
	if (strcmp(sub, "enroll") == 0)
		rc = cmd_otp_enroll(opts, conn, who);
	else if (strcmp(sub, "status") == 0)
		rc = cmd_otp_status(opts, conn, user, who);
	else
		rc = cmd_otp_remove(opts, conn, user, who, yes);
	tokend_conn_close(conn);
	return rc;
}
