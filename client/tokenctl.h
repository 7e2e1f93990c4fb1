/* SPDX-License-Identifier: ISC */
/*
 * tokenctl: the command-line client of tokend.  Declarations shared by the
 * command files (cmd_*.c), terminal prompting (prompt.c) and output
 * formatting (output.c).  Only the public libtokend API (tokend.h) is used.
 */
#ifndef TOKENCTL_H
#define TOKENCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tokend.h"

/* Exit status (tokenctl(1), EXIT STATUS). */
#define TOKENCTL_EXIT_OK		0
#define TOKENCTL_EXIT_REFUSED		1	/* the daemon or the user said no */
#define TOKENCTL_EXIT_USAGE		2	/* bad command line */
#define TOKENCTL_EXIT_UNREACHABLE	3	/* no daemon, I/O or protocol error */

#define TOKENCTL_TIMEOUT_MS		5000

/* Global options, handed to every command. */
struct tokenctl_opts {
	const char	*socket;	/* resolved socket path */
	int		 json;		/* --json */
};

/* --scope arguments in the order given. */
struct tokenctl_scopes {
	const char	*v[TOKEND_MAX_SCOPES];
	unsigned	 n;
};

/* Long option values shared by the commands (above any character). */
enum {
	TOKENCTL_OPT_HELP = 256,
	TOKENCTL_OPT_JSON,
	TOKENCTL_OPT_SOCKET,
	TOKENCTL_OPT_VERSION,
	TOKENCTL_OPT_NAME,
	TOKENCTL_OPT_EXPIRES,
	TOKENCTL_OPT_SCOPE,
	TOKENCTL_OPT_USER,
	TOKENCTL_OPT_ALL,
	TOKENCTL_OPT_YES,
	TOKENCTL_OPT_LIFETIME,
	TOKENCTL_OPT_JSON_PROMPTS,
	TOKENCTL_OPT_EXPIRED,
	TOKENCTL_OPT_TOKEN_FILE,
	TOKENCTL_OPT_CACHE,
	TOKENCTL_OPT_OVERLAP,
};

/* tokenctl.c */
void	 tokenctl_usage(FILE *);
void	 tokenctl_command_usage(FILE *, const char *cmd);
void	 tokenctl_warnx(const char *, ...)
	     __attribute__((format(printf, 1, 2)));
/*
 * Report a failure: "tokenctl: <fmt>" on stderr and, with --json,
 * {"error":"<fmt>","code":code} on stdout (tokenctl(1), EXIT STATUS).
 */
void	 tokenctl_failx(enum tokend_err code, const char *, ...)
	     __attribute__((format(printf, 2, 3)));
/* Report "<fmt>; see 'tokenctl --help'" as failure TOKEND_E_ARG; the usage status. */
int	 tokenctl_usage_error(const char *, ...)
	     __attribute__((format(printf, 1, 2)));
/* Report a getopt_long() error ('?' or ':') of command cmd. */
int	 tokenctl_getopt_error(const char *cmd, int ch, char **argv);
/* Report err (with the daemon's message, if any) and return the exit status. */
int	 tokenctl_fail(const struct tokend_conn *conn, enum tokend_err err,
	     const char *what);
int	 tokenctl_exit_status(enum tokend_err err);
/* Open a connection; 0 or an exit status after reporting the error. */
int	 tokenctl_connect(const struct tokenctl_opts *opts,
	     struct tokend_conn **conn);
/* An argument fit to echo in a message: never a token. */
const char *tokenctl_safe_arg(const char *arg);
/* --user ARG of cmd: 0 and *user set, or a usage error (reported). */
int	 tokenctl_opt_user(const char *cmd, const char *arg, const char **user);
int	 tokenctl_add_scope(struct tokenctl_scopes *scopes, const char *cmd,
	     const char *scope);
/* "90s", "10m", "12h", "30d", "2w": seconds, > 0.  0 on success, -1 if bad. */
int	 tokenctl_parse_duration(const char *s, int64_t *secs);
/* "2027-01-31" (00:00 UTC) or RFC 3339 "2027-01-31T12:00:00Z"; 0 or -1. */
int	 tokenctl_parse_time(const char *s, int64_t *t);

/* Commands: each returns an exit status. */
int	 cmd_issue(struct tokenctl_opts *, int, char **);
int	 cmd_list(struct tokenctl_opts *, int, char **);
int	 cmd_delete(struct tokenctl_opts *, int, char **);
int	 cmd_show(struct tokenctl_opts *, int, char **);
int	 cmd_rename(struct tokenctl_opts *, int, char **);
int	 cmd_unlock(struct tokenctl_opts *, int, char **);
int	 cmd_rotate(struct tokenctl_opts *, int, char **);
int	 cmd_otp(struct tokenctl_opts *, int, char **);

/*
 * cmd_issue.c: the PAM conversation of issue and otp, as a tokend_conv_fn
 * with arg a struct tokenctl_conv.  Prompts and PAM text go to stderr
 * (--json-prompts: JSON lines on stdout); answers come from the terminal
 * with echo off, or a line each from stdin.
 */
struct tokenctl_conv {
	int		 json;		/* --json-prompts */
	const char	*cause;		/* why the callback gave up */
	/* A TOKEND_PROMPT_SECRET: show it; 0 or -1.  NULL: none may come. */
	int		(*secret)(const char *text, void *arg);
	void		*secret_arg;
};
int	 tokenctl_conv(int n, const struct tokend_prompt *msgs, char **answers,
	     void *arg);
/*
 * Report a failed conversation request (what: "issue"): the callback's
 * own reason when it gave up, else the daemon's.  The exit status.
 */
int	 tokenctl_conv_fail(const struct tokend_conn *conn, enum tokend_err err,
	     const struct tokenctl_conv *cv, const char *what);

/* A token from stdin (never argv); 0 or an exit status (reported). */
int	 tokenctl_read_token(const char *cmd, const char *prompt, char **token);
/*
 * Ask question (prompt_confirm); 0 when the answer is yes, else the exit
 * status after "CMD: not confirmed; nothing was DONE" (cmd_delete.c).
 */
int	 tokenctl_confirm(const char *cmd, const char *question,
	     const char *done);
/* The caller's (or user's) token with id or name arg (cmd_delete.c). */
int	 tokenctl_find_token(struct tokend_conn *, const char *cmd,
	     const char *user, const char *arg, struct tokend_token *found);
int	 cmd_token_exchange(struct tokenctl_opts *, int, char **);
int	 cmd_token_verify(struct tokenctl_opts *, int, char **);
int	 cmd_token_status(struct tokenctl_opts *, int, char **);

/* prompt.c */
#define PROMPT_LINE_MAX		1024	/* longest answer, newline excluded */
int	 prompt_isatty(void);
/* While fd (the daemon's socket) is set, a prompt gives up when it turns readable. */
void	 prompt_watch(int fd);
/*
 * Show prompt (may be NULL) on stderr and read one line from stdin, with
 * echo off on a terminal when echo is 0.  Returns 0 and a malloc'ed line
 * without its newline (wipe and free it), 1 at end of input, or -1 with
 * *cause set.
 */
int	 prompt_read(const char *prompt, int echo, char **line,
	     const char **cause);
/* Read a token: on a terminal prompt with echo off; trims white space. */
int	 prompt_token(const char *prompt, char **token, const char **cause);
/* Ask question; 1 if the answer is exactly "yes", 0 if not, -1 on error. */
int	 prompt_confirm(const char *question, const char **cause);
/* Wipe and free a string from prompt_read() or prompt_token(). */
void	 prompt_free(char *);

/* output.c */
#define OUTPUT_TIME_SIZE	64
#define OUTPUT_SCOPES_SIZE	(TOKEND_MAX_SCOPES * TOKEND_SCOPE_SIZE)
struct json_object;
struct output_table;

int64_t	 output_now(void);

/* credcache.c: exchange --token-file and --cache. */
int	 credcache_read_file(const char *path, char **token, const char **cause);
struct credcache_entry {
	int64_t	 expires;
	char	 scope[OUTPUT_SCOPES_SIZE];	/* granted, space-separated */
	char	 access[TOKEND_TOKEN_SIZE];
};
/* 1 and *e filled when a cached access token has 30 s or more left. */
int	 credcache_get(const char *refresh, const char *const *scopes,
	     unsigned n, uint32_t lifetime, int64_t now,
	     struct credcache_entry *e, const char **cause);
int	 credcache_put(const char *refresh, const char *const *scopes,
	     unsigned n, uint32_t lifetime, const struct credcache_entry *e,
	     const char **cause);
void	 output_time_rfc3339(int64_t t, char *buf, size_t size);
void	 output_time_date(int64_t t, char *buf, size_t size);
/* "in 29 days", "3 hours ago", "never" (t == 0). */
void	 output_time_relative(int64_t t, int64_t now, char *buf, size_t size);
/* Copy s with control characters replaced by '?'. */
void	 output_clean(const char *s, char *buf, size_t size);
/* Join a token's scopes with sep; empty when it has none. */
void	 output_scopes(const struct tokend_token *tok, const char *sep,
	     char *buf, size_t size);

struct output_table *output_table_new(unsigned ncols);
/* Add a row of ncols cells (copied, cleaned); 0 or -1. */
int	 output_table_add(struct output_table *, const char *const *cells);
/* Print with aligned columns; 0 or -1 on a write error. */
int	 output_table_print(struct output_table *, FILE *);
void	 output_table_free(struct output_table *);

/* Add a value to a JSON object; 0 or -1 when out of memory. */
int	 output_json_string(struct json_object *, const char *key,
	     const char *value);
int	 output_json_int(struct json_object *, const char *key, int64_t value);
int	 output_json_uint(struct json_object *, const char *key,
	     uint64_t value);
int	 output_json_bool(struct json_object *, const char *key, int value);
/* RFC 3339 time, or null when t is 0 and nullable is set. */
int	 output_json_time(struct json_object *, const char *key, int64_t t,
	     int nullable);
int	 output_json_scopes(struct json_object *, const char *key,
	     const struct tokend_token *tok);
/* {"error":message,"code":code} as one line on stdout; 0 or -1. */
int	 output_json_error(const char *message, int code);
/* Print value as one line of JSON on stdout; 0 or -1. */
int	 output_json_print(struct json_object *value);
/*
 * Write {"key":"secret",<the members of rest>} (rest may be NULL) on
 * stdout, straight from the caller's buffer so the secret is not copied.
 */
int	 output_json_secret(const char *key, const char *secret,
	     struct json_object *rest);
/* Write the secret alone on one line of stdout, uncopied. */
int	 output_secret_line(const char *secret);

#endif /* TOKENCTL_H */
