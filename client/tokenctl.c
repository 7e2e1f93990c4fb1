/* SPDX-License-Identifier: ISC */
/*
 * tokenctl: global options, the command table, argument value parsing and
 * the mapping of errors to messages and exit status.
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "duration.h"
#include "tokenctl.h"

#ifndef TOKEND_VERSION
#define TOKEND_VERSION	"unknown"
#endif

/* Longest relative time accepted: 100 years (the daemon has its own maximum). */
#define TOKENCTL_DURATION_MAX	(INT64_C(100) * 366 * 86400)

static const struct tokenctl_cmd {
	const char	*name;
	int		(*exec)(struct tokenctl_opts *, int, char **);
} tokenctl_cmds[] = {
	{ "issue",	cmd_issue },
	{ "list",	cmd_list },
	{ "delete",	cmd_delete },
	{ "show",	cmd_show },
	{ "rename",	cmd_rename },
	{ "exchange",	cmd_token_exchange },
	{ "verify",	cmd_token_verify },
	{ "status",	cmd_token_status },
	{ "unlock",	cmd_unlock },
	{ "rotate",	cmd_rotate },
	{ "otp",	cmd_otp },
};

/* This run's options: failures are reported as JSON too with --json. */
static const struct tokenctl_opts *tokenctl_opts;

static const struct option tokenctl_longopts[] = {
	{ "help",	no_argument,		NULL,	TOKENCTL_OPT_HELP },
	{ "json",	no_argument,		NULL,	TOKENCTL_OPT_JSON },
	{ "socket",	required_argument,	NULL,	TOKENCTL_OPT_SOCKET },
	{ "version",	no_argument,		NULL,	TOKENCTL_OPT_VERSION },
	{ NULL,		0,			NULL,	0 }
};

void
tokenctl_usage(FILE *f)
{
	fputs("usage: tokenctl [--socket PATH] [--json] COMMAND [ARGS]\n"
	    "       tokenctl --help | --version\n"
	    "\n"
	    "commands:\n"
	    "  issue [--name NAME] [--expires 30d|12h|2027-01-31] [--scope S]..."
	    " [--user U]\n"
	    "                   authenticate and issue a refresh token (shown once)\n"
	    "  list [--user U | --all] [--expired]\n"
	    "                   list refresh tokens\n"
	    "  show [--user U] ID|NAME\n"
	    "                   one token: every field and its state\n"
	    "  rename [--user U] ID|NAME NEWNAME\n"
	    "                   give a token a new name\n"
	    "  delete ID|NAME [--yes]\n"
	    "  delete --all [--user U] [--yes]\n"
	    "                   revoke one or all refresh tokens\n"
	    "  exchange [--scope S]... [--lifetime 10m] [--token-file F] [--cache]\n"
	    "                   trade a refresh token (stdin) for an access token\n"
	    "  rotate [--overlap 10m] [--token-file F]\n"
	    "                   replace a refresh token (stdin) with a new one\n"
	    "  verify           check a token (stdin); exit 0 if active\n"
	    "  status           daemon version, health and counters\n"
	    "  unlock USER      let USER try again after failed attempts (admins)\n"
	    "  otp enroll | status [--user U] | remove [--user U] [--yes]\n"
	    "                   one-time codes: enrol a phone app, check, remove\n"
	    "\n"
	    "Tokens are read from standard input, never from the command line.\n"
	    "The socket is --socket, else $TOKEND_SOCKET, else "
	    TOKEND_DEFAULT_SOCKET ".\n", f);
}

/* tokenctl COMMAND --help: that command alone, with what each option takes. */
static const struct {
	const char	*cmd;
	const char	*text;
} command_help[] = {
	{ "issue",
	  "usage: tokenctl issue [--name NAME] [--expires WHEN] [--scope S]... "
	  "[--user U]\n"
	  "\n"
	  "Authenticate (password, and a one-time code if the host asks) and\n"
	  "print a new refresh token on stdout, once: save it now.\n"
	  "\n"
	  "  --name NAME     what the token is for (unique per user)\n"
	  "  --expires WHEN  a lifetime from the moment of issue: seconds, or a\n"
	  "                  number with s, m, h, d or w (30d, 12h); or a date\n"
	  "                  2027-01-31 or time 2027-01-31T12:00:00Z\n"
	  "                  (default: the host's, 90 days unless configured)\n"
	  "  --scope S       give the token scope S (up to 16)\n"
	  "  --user U        issue for user U (root only)\n" },
	{ "list",
	  "usage: tokenctl list [--user U | --all] [--expired]\n"
	  "\n"
	  "List refresh tokens: id, name, created, expires, last used, scopes.\n"
	  "\n"
	  "  --user U        user U's tokens (root and the admin group)\n"
	  "  --all           every user's tokens (root and the admin group)\n"
	  "  --expired       expired tokens too (kept until the hourly purge)\n" },
	{ "show",
	  "usage: tokenctl show [--user U] ID|NAME\n"
	  "\n"
	  "Everything about one of your tokens, and whether it is active or\n"
	  "expired (no verifier group needed: the token is not sent).\n"
	  "\n"
	  "  --user U        one of user U's tokens (root and the admin group)\n" },
	{ "rename",
	  "usage: tokenctl rename [--user U] ID|NAME NEWNAME\n"
	  "\n"
	  "Give a token a new name (unique among your tokens).  The token and\n"
	  "its access tokens keep working.\n"
	  "\n"
	  "  --user U        one of user U's tokens (root and the admin group)\n" },
	{ "delete",
	  "usage: tokenctl delete [--user U] ID|NAME [--yes]\n"
	  "       tokenctl delete --all [--user U] [--yes]\n"
	  "\n"
	  "Revoke a refresh token, given by its id or its name, and every access\n"
	  "token made from it, after you type 'yes'.  Programs that use it are\n"
	  "refused from then on.\n"
	  "\n"
	  "  --all           all your tokens\n"
	  "  --user U        user U's token(s) (root and the admin group)\n"
	  "  --yes           do not ask (scripts)\n" },
	{ "exchange",
	  "usage: tokenctl exchange [--scope S]... [--lifetime DURATION]\n"
	  "                         [--token-file FILE] [--cache] [< token]\n"
	  "\n"
	  "Trade a refresh token, read from stdin or FILE, for a short-lived\n"
	  "access token printed on stdout.\n"
	  "\n"
	  "  --scope S          fewer scopes than the refresh token has\n"
	  "  --lifetime DURATION\n"
	  "                     shorter than the default (5 minutes unless\n"
	  "                     configured): seconds, or with s, m, h (300, 10m)\n"
	  "  --token-file FILE  read the refresh token from FILE (yours, mode 600)\n"
	  "  --cache            reuse the access token until 30 s before it\n"
	  "                     expires (kept in $XDG_RUNTIME_DIR/tokend)\n" },
	{ "verify",
	  "usage: tokenctl verify < token\n"
	  "\n"
	  "Check a token read from stdin: exit 0 if it is active, 1 if not.\n"
	  "With --json, an RFC 7662 introspection answer.  Root and the\n"
	  "verifier group only.\n" },
	{ "rotate",
	  "usage: tokenctl rotate [--overlap DURATION] [--token-file FILE] "
	  "[< token]\n"
	  "\n"
	  "Replace a refresh token, read from stdin or FILE, with a new one of\n"
	  "the same name, scopes and expiry, printed on stdout once.  No\n"
	  "password: the token is the credential, so a job can rotate its own.\n"
	  "The old token is refused from then on (after the overlap); used\n"
	  "again, it and every token rotated from it are revoked.\n"
	  "\n"
	  "  --overlap DURATION  the old token keeps working this long (default\n"
	  "                      0, at most the host's rotate_overlap_max, 1h)\n"
	  "  --token-file FILE   read the token from FILE (yours, mode 600)\n" },
	{ "unlock",
	  "usage: tokenctl unlock USER\n"
	  "\n"
	  "Let USER authenticate (issue) and exchange again at once: forget\n"
	  "their recent failures, which otherwise refuse them for a while.\n"
	  "Root and the admin group only.\n" },
	{ "otp",
	  "usage: tokenctl otp enroll\n"
	  "       tokenctl otp status [--user U]\n"
	  "       tokenctl otp remove [--user U] [--yes]\n"
	  "\n"
	  "One-time codes from an authenticator app (when the host has\n"
	  "otp_enroll = yes).  enroll: after your password, a new secret is\n"
	  "printed on stdout as an otpauth:// URI (and drawn as a QR code on a\n"
	  "terminal); add it to the app and type the code it shows.  Nothing is\n"
	  "saved until a code matches.  Replacing an enrolment, or removing your\n"
	  "own, asks for your password and a current code.\n"
	  "\n"
	  "  --user U        status or remove of user U's enrolment (root and the\n"
	  "                  admin group; no code needed: the phone may be lost)\n"
	  "  --yes           remove without asking (scripts)\n" },
	{ "status",
	  "usage: tokenctl status\n"
	  "\n"
	  "The daemon's version, health and counters.\n" },
};

void
tokenctl_command_usage(FILE *f, const char *cmd)
{
	size_t	i;

	for (i = 0; i < sizeof(command_help) / sizeof(command_help[0]); i++)
		if (strcmp(command_help[i].cmd, cmd) == 0) {
			fputs(command_help[i].text, f);
			fputs("\nOptions for every command: --socket PATH, --json.  "
			    "See tokenctl(1).\n", f);
			return;
		}
	tokenctl_usage(f);
}

void
tokenctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("tokenctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * "tokenctl: <message><suffix>" on stderr and, with --json, the message
 * and code as {"error":...,"code":N} on stdout, so that a program reading
 * stdout learns why without parsing English.
 */
static void
tokenctl_report(enum tokend_err code, const char *suffix, const char *fmt,
    va_list ap)
{
	char	*msg = NULL;

	fflush(stdout);
	if (vasprintf(&msg, fmt, ap) == -1) {
		fputs("tokenctl: out of memory\n", stderr);
		return;
	}
	fprintf(stderr, "tokenctl: %s%s\n", msg, suffix);
	if (tokenctl_opts != NULL && tokenctl_opts->json)
		output_json_error(msg, code);
	free(msg);
}

void
tokenctl_failx(enum tokend_err code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	tokenctl_report(code, "", fmt, ap);
	va_end(ap);
}

int
tokenctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	tokenctl_report(TOKEND_E_ARG, "; see 'tokenctl --help'", fmt, ap);
	va_end(ap);
	return TOKENCTL_EXIT_USAGE;
}

int
tokenctl_getopt_error(const char *cmd, int ch, char **argv)
{
	const char	*opt = argv[optind - 1], *sep = cmd != NULL ? ": " : "";
	char		 shortopt[3];

	if (cmd == NULL)
		cmd = "";
	if (ch == ':')
		return tokenctl_usage_error("%s%soption %s needs an argument",
		    cmd, sep, opt);
	if (optopt >= TOKENCTL_OPT_HELP)
		return tokenctl_usage_error("%s%soption %s takes no argument",
		    cmd, sep, tokenctl_safe_arg(opt));
	if (optopt > 0 && optopt < 128 && isprint(optopt)) {
		snprintf(shortopt, sizeof(shortopt), "-%c", optopt);
		opt = shortopt;
	}
	return tokenctl_usage_error("%s%sunknown option %s", cmd, sep,
	    tokenctl_safe_arg(opt));
}

int
tokenctl_exit_status(enum tokend_err err)
{
	switch (err) {
	case TOKEND_OK:
		return TOKENCTL_EXIT_OK;
	case TOKEND_E_AUTH:
	case TOKEND_E_DENIED:
	case TOKEND_E_NOT_FOUND:
	case TOKEND_E_INACTIVE:
	case TOKEND_E_EXISTS:
	case TOKEND_E_LIMIT:
	case TOKEND_E_INVALID:
	case TOKEND_E_BUSY:
	case TOKEND_E_TIMEOUT:
	case TOKEND_E_STORE:
	case TOKEND_E_RATE_LIMITED:
	case TOKEND_E_FORMAT:
	case TOKEND_E_ABORTED:
		return TOKENCTL_EXIT_REFUSED;
	case TOKEND_E_ARG:
		return TOKENCTL_EXIT_USAGE;
	case TOKEND_E_MALFORMED:
	case TOKEND_E_INTERNAL:
	case TOKEND_E_SHUTDOWN:
	case TOKEND_E_UNAVAILABLE:
	case TOKEND_E_CONNECT:
	case TOKEND_E_IO:
	case TOKEND_E_PROTOCOL:
	case TOKEND_E_NOMEM:
		break;
	}
	return TOKENCTL_EXIT_UNREACHABLE;
}

int
tokenctl_fail(const struct tokend_conn *conn, enum tokend_err err,
    const char *what)
{
	const char	*reason = tokend_strerror(err), *msg = "";
	char		 clean[512];

	if (conn != NULL)
		msg = tokend_conn_message(conn);
	if (msg != NULL && *msg != '\0') {
		output_clean(msg, clean, sizeof(clean));
		/*
		 * The daemon's words alone when they already say it (they start
		 * with the reason, or name the limit and when to retry).
		 */
		if (strncasecmp(clean, reason, strlen(reason)) == 0 ||
		    err == TOKEND_E_RATE_LIMITED) {
			tokenctl_failx(err, "%s: %s", what, clean);
			return tokenctl_exit_status(err);
		}
		if (strcasecmp(clean, reason) != 0) {
			tokenctl_failx(err, "%s: %s: %s", what, reason, clean);
			return tokenctl_exit_status(err);
		}
	}
	tokenctl_failx(err, "%s: %s", what, reason);
	return tokenctl_exit_status(err);
}

int
tokenctl_connect(const struct tokenctl_opts *opts, struct tokend_conn **conn)
{
	enum tokend_err	err;

	err = tokend_conn_open(conn, opts->socket, TOKENCTL_TIMEOUT_MS);
	if (err != TOKEND_OK)
		return tokenctl_fail(NULL, err, opts->socket);
	return 0;
}

/* Something that looks like a token (even a mistyped one) is not echoed. */
const char *
tokenctl_safe_arg(const char *arg)
{
	const char	*p;

	if (tokend_token_parse(arg, NULL, NULL) == TOKEND_OK)
		goto token;
	if (strlen(arg) < 32 || strchr(arg, '_') == NULL)
		return arg;
	for (p = arg; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return arg;
token:
	return "(a token? tokens are read from standard input, never from "
	    "the command line)";
}

int
tokenctl_opt_user(const char *cmd, const char *arg, const char **user)
{
	if (*arg == '\0' || strlen(arg) >= TOKEND_USER_SIZE)
		return tokenctl_usage_error("%s: bad --user", cmd);
	*user = arg;
	return 0;
}

int
tokenctl_add_scope(struct tokenctl_scopes *scopes, const char *cmd,
    const char *scope)
{
	if (*scope == '\0')
		return tokenctl_usage_error("%s: empty --scope", cmd);
	if (strlen(scope) >= TOKEND_SCOPE_SIZE)
		return tokenctl_usage_error("%s: scope longer than %d bytes",
		    cmd, TOKEND_SCOPE_SIZE - 1);
	if (scopes->n == TOKEND_MAX_SCOPES)
		return tokenctl_usage_error("%s: more than %d scopes", cmd,
		    TOKEND_MAX_SCOPES);
	scopes->v[scopes->n++] = scope;
	return 0;
}

/* A duration as tokend.conf writes it (duration.h), above 0. */
int
tokenctl_parse_duration(const char *s, int64_t *secs)
{
	int64_t	v;

	if (duration_parse(s, &v) == -1 || v <= 0 ||
	    v > TOKENCTL_DURATION_MAX)
		return -1;
	*secs = v;
	return 0;
}

/* Exactly n decimal digits. */
static int
tokenctl_digits(const char *s, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
tokenctl_parse_time(const char *s, int64_t *t)
{
	struct tm	 tm;
	const char	*p;
	time_t		 tt;
	int		 y, mo, d, h = 0, mi = 0, sec = 0, oh, om, off = 0;

	if (tokenctl_digits(s, 4, &y) == -1 || s[4] != '-' ||
	    tokenctl_digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    tokenctl_digits(s + 8, 2, &d) == -1)
		return -1;
	p = s + 10;
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		if (tokenctl_digits(p + 1, 2, &h) == -1 || p[3] != ':' ||
		    tokenctl_digits(p + 4, 2, &mi) == -1 || p[6] != ':' ||
		    tokenctl_digits(p + 7, 2, &sec) == -1)
			return -1;
		p += 9;
		if (*p == '.') {
			if (!isdigit((unsigned char)*++p))
				return -1;
			while (isdigit((unsigned char)*p))
				p++;
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			if (tokenctl_digits(p + 1, 2, &oh) == -1 ||
			    p[3] != ':' ||
			    tokenctl_digits(p + 4, 2, &om) == -1 ||
			    oh > 23 || om > 59)
				return -1;
			off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
			p += 6;
		} else
			return -1;
		if (*p != '\0' || h > 23 || mi > 59 || sec > 60)
			return -1;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	if ((tt = timegm(&tm)) == (time_t)-1)
		return -1;
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)	/* 2027-02-30 */
		return -1;
	*t = (int64_t)tt + sec - off;
	return 0;
}

int
main(int argc, char **argv)
{
	struct tokenctl_opts	 opts;
	const char		*env;
	size_t			 i;
	int			 ch, rc;

	/* A daemon that goes away must give an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);

	memset(&opts, 0, sizeof(opts));
	tokenctl_opts = &opts;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:h", tokenctl_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
		case TOKENCTL_OPT_HELP:
			tokenctl_usage(stdout);
			return fflush(stdout) == 0 ? 0 : TOKENCTL_EXIT_UNREACHABLE;
		case TOKENCTL_OPT_VERSION:
			printf("tokenctl %s\n", TOKEND_VERSION);
			return fflush(stdout) == 0 ? 0 : TOKENCTL_EXIT_UNREACHABLE;
		case TOKENCTL_OPT_JSON:
			opts.json = 1;
			break;
		case TOKENCTL_OPT_SOCKET:
			if (*optarg == '\0')
				return tokenctl_usage_error("empty --socket");
			opts.socket = optarg;
			break;
		default:
			return tokenctl_getopt_error(NULL, ch, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return tokenctl_usage_error("no command given");
	if (opts.socket == NULL) {
		env = getenv("TOKEND_SOCKET");
		opts.socket = env != NULL && *env != '\0' ? env :
		    TOKEND_DEFAULT_SOCKET;
	}

	for (i = 0; i < sizeof(tokenctl_cmds) / sizeof(tokenctl_cmds[0]); i++)
		if (strcmp(argv[0], tokenctl_cmds[i].name) == 0)
			break;
	if (i == sizeof(tokenctl_cmds) / sizeof(tokenctl_cmds[0]))
		return tokenctl_usage_error("unknown command %s",
		    tokenctl_safe_arg(argv[0]));

	optind = 0;	/* glibc: start over on the command's arguments */
	rc = tokenctl_cmds[i].exec(&opts, argc, argv);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		tokenctl_failx(TOKEND_E_IO, "standard output: write error");
		if (rc == TOKENCTL_EXIT_OK)
			rc = TOKENCTL_EXIT_UNREACHABLE;
	}
	return rc;
}
