/* SPDX-License-Identifier: ISC */
/*
 * libtokend: the C client library of tokend, the local API token service.
 *
 * One struct tokend_conn is one Unix socket connection to the daemon.
 * Every call blocks until the daemon answers or the connection's timeout
 * passes.  A connection may be used by one thread at a time; use one
 * connection per thread.  After fork(), close the parent's connection in
 * the child and open a new one.  The library never prints and never exits.
 *
 * Every function returns TOKEND_OK (0) or an error from enum tokend_err;
 * tokend_strerror() names it, tokend_conn_message() gives the daemon's
 * own one-line explanation of the last refusal.
 */
#ifndef TOKEND_H
#define TOKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TOKEND_DEFAULT_SOCKET	"/run/tokend/tokend.sock"
#define TOKEND_ID_SIZE		12	/* 11 characters + NUL */
#define TOKEND_NAME_SIZE	65
#define TOKEND_USER_SIZE	257
#define TOKEND_SCOPE_SIZE	65
#define TOKEND_MAX_SCOPES	16
#define TOKEND_TOKEN_SIZE	129

enum tokend_err {
	TOKEND_OK		= 0,
	/* Refusals from the daemon (same numbers as the protocol). */
	TOKEND_E_MALFORMED	= 1,	/* the daemon could not decode the request */
	TOKEND_E_AUTH		= 2,	/* authentication failed */
	TOKEND_E_DENIED		= 3,	/* not permitted for this caller */
	TOKEND_E_NOT_FOUND	= 4,	/* no such token or user */
	TOKEND_E_INACTIVE	= 5,	/* token expired, revoked or unknown */
	TOKEND_E_EXISTS		= 6,	/* a token of that name exists */
	TOKEND_E_LIMIT		= 7,	/* too many tokens for this user */
	TOKEND_E_INVALID	= 8,	/* bad name, expiry or scope */
	TOKEND_E_BUSY		= 9,	/* daemon at its connection or PAM limit */
	TOKEND_E_TIMEOUT	= 10,	/* the PAM conversation timed out */
	TOKEND_E_STORE		= 11,	/* database error or database full */
	TOKEND_E_INTERNAL	= 12,
	TOKEND_E_RATE_LIMITED	= 13,
	TOKEND_E_SHUTDOWN	= 14,	/* daemon is stopping */
	TOKEND_E_UNAVAILABLE	= 15,	/* fleet mode: the token database is out of reach */
	/* Errors found on this side. */
	TOKEND_E_CONNECT	= 100,	/* daemon unreachable */
	TOKEND_E_IO		= 101,	/* connection failed or timed out */
	TOKEND_E_PROTOCOL	= 102,	/* unexpected or malformed answer */
	TOKEND_E_NOMEM		= 103,
	TOKEND_E_ARG		= 104,	/* bad argument to a library call */
	TOKEND_E_FORMAT		= 105,	/* not a well-formed token (checksum) */
	TOKEND_E_ABORTED	= 106,	/* the conversation callback gave up */
};

enum tokend_kind {
	TOKEND_KIND_REFRESH	= 1,
	TOKEND_KIND_ACCESS	= 2,
};

/* What the daemon knows of one token.  Times are unix seconds. */
struct tokend_token {
	char		id[TOKEND_ID_SIZE];
	char		parent[TOKEND_ID_SIZE];	/* access token: its refresh token's id */
	char		user[TOKEND_USER_SIZE];
	uint32_t	uid;
	char		name[TOKEND_NAME_SIZE];
	int		kind;			/* enum tokend_kind */
	int64_t		created;
	int64_t		expires;
	int64_t		last_used;		/* 0: never used */
	unsigned	nscopes;
	char		scopes[TOKEND_MAX_SCOPES][TOKEND_SCOPE_SIZE];
};

struct tokend_conn;

/*
 * Connect to the daemon at path (NULL: the TOKEND_SOCKET environment
 * variable when set, except in setuid/setgid programs, else
 * TOKEND_DEFAULT_SOCKET).  timeout_ms bounds the
 * connect and every later call (0: 5000).  On success *conn is the
 * caller's, to be released with tokend_conn_close().
 */
enum tokend_err	 tokend_conn_open(struct tokend_conn **conn, const char *path,
		     int timeout_ms);
/* Close and free; NULL is allowed. */
void		 tokend_conn_close(struct tokend_conn *conn);
/*
 * The daemon's message for the last refusal on this connection, or "".
 * The string belongs to the connection and changes with the next call.
 */
const char	*tokend_conn_message(const struct tokend_conn *conn);
/*
 * The connection's socket, for poll(2) only: while a conversation
 * callback waits for a person, the socket turning readable means the
 * daemon gave up (timeout); the callback may then return -1, and
 * tokend_token_issue() reports the daemon's reason.  -1 when closed.
 */
int		 tokend_conn_fd(const struct tokend_conn *conn);
/* A static English description of err. */
const char	*tokend_strerror(enum tokend_err err);

/* PAM message styles, as in <security/pam_appl.h>. */
enum tokend_prompt_style {
	TOKEND_PROMPT_ECHO_OFF	= 1,
	TOKEND_PROMPT_ECHO_ON	= 2,
	TOKEND_PROMPT_ERROR	= 3,
	TOKEND_PROMPT_INFO	= 4,
	/*
	 * Only in tokend_otp_enroll(): the new secret as an otpauth:// URI,
	 * for the user's eyes (and authenticator app) alone: show it once,
	 * never log it, no answer.
	 */
	TOKEND_PROMPT_SECRET	= 5,
};

struct tokend_prompt {
	int		 style;			/* enum tokend_prompt_style */
	const char	*text;
};

/*
 * Conversation callback for tokend_token_issue(): n messages, each to be
 * shown; for ECHO_OFF/ECHO_ON ones set answers[i] to a malloc'ed string.
 * Leave answers[i] NULL for ERROR/INFO.  Return 0 to go on, -1 to abort
 * the issue.  Either way the library wipes and frees every answers[i]
 * that is not NULL.
 */
typedef int (*tokend_conv_fn)(int n, const struct tokend_prompt *msgs,
    char **answers, void *arg);

struct tokend_issue_req {
	const char		*user;		/* NULL: the caller (others: root only) */
	const char		*name;		/* NULL: the daemon picks one */
	/*
	 * Unix time; below 0, a lifetime of -expires seconds counted when
	 * the token is made (after PAM); 0: the host's default lifetime.
	 */
	int64_t			 expires;
	const char *const	*scopes;
	unsigned		 nscopes;
};

/*
 * Issue a refresh token: the daemon runs PAM for the user and relays its
 * prompts through conv.  Since a person answers them, each PAM step may
 * take up to 15 minutes, whatever the connection's timeout.  On success token[TOKEND_TOKEN_SIZE] holds the new
 * refresh token (shown once: wipe it with tokend_wipe() when done) and
 * *info (may be NULL) describes it.
 */
enum tokend_err	 tokend_token_issue(struct tokend_conn *conn,
		     const struct tokend_issue_req *req, tokend_conv_fn conv,
		     void *arg, char *token, struct tokend_token *info);

/*
 * List refresh tokens: the caller's (user NULL, all 0), one user's or
 * everybody's (admins).  On success *tokens is a malloc'ed array of *n
 * records, the caller's to free() (NULL when *n is 0).
 */
enum tokend_err	 tokend_token_list(struct tokend_conn *conn, const char *user,
		     int all, struct tokend_token **tokens, size_t *n);

/* Revoke one refresh token by id; its access tokens stop working at once. */
enum tokend_err	 tokend_token_revoke(struct tokend_conn *conn, const char *id);
/*
 * Give refresh token id (the caller's; an admin's: anyone's) a new name,
 * unique among its owner's tokens (TOKEND_E_EXISTS otherwise).
 */
enum tokend_err	 tokend_token_rename(struct tokend_conn *conn, const char *id,
		     const char *name);
/*
 * Rotate a refresh token: the token itself is the credential (no PAM).
 * Its successor, with the same name, scopes and expiry, is written to
 * token (TOKEND_TOKEN_SIZE bytes, shown once) and described in *info
 * (may be NULL).  The old token keeps working for overlap seconds (at most
 * the daemon's rotate_overlap_max); presented after that, it is refused
 * and every token rotated from it is revoked too (reuse detection).
 */
enum tokend_err	 tokend_token_rotate(struct tokend_conn *conn,
		     const char *refresh, uint32_t overlap, char *token,
		     struct tokend_token *info);
/*
 * Admins: let user authenticate and exchange again at once, forgetting
 * their recent failures.  *was_limited (may be NULL): 1 when the user was
 * being refused.
 */
enum tokend_err	 tokend_user_unlock(struct tokend_conn *conn, const char *user,
		     int *was_limited);

/* Whether a user has a one-time-code secret (tokend_otp_*). */
struct tokend_otp_status {
	int		 enrolled;	/* 1: USER.oath exists in otp_dir */
	int64_t		 since;		/* the file last written (enrolment, or pam_oath
					   accepting a code); 0 if not enrolled */
};

/*
 * Enrol the caller for one-time codes (tokend.conf: otp_enroll = yes).
 * The daemon runs PAM (service tokend-enroll, password only; the full
 * tokend stack when the caller is already enrolled), then sends the new
 * secret as a TOKEND_PROMPT_SECRET message followed by a prompt for a
 * code from it; only a code that matches saves the secret.  *status (may
 * be NULL) says what is enrolled afterwards.
 */
enum tokend_err	 tokend_otp_enroll(struct tokend_conn *conn,
		     tokend_conv_fn conv, void *arg,
		     struct tokend_otp_status *status);
/* Is user (NULL: the caller; others: admins) enrolled? */
enum tokend_err	 tokend_otp_status(struct tokend_conn *conn, const char *user,
		     struct tokend_otp_status *status);
/*
 * Remove an enrolment.  user NULL: the caller's own, after PAM with the
 * full tokend stack (password and a current code) through conv.  Another
 * user's: admins only, no PAM (conv may be NULL).  TOKEND_E_NOT_FOUND
 * when there was none.
 */
enum tokend_err	 tokend_otp_remove(struct tokend_conn *conn, const char *user,
		     tokend_conv_fn conv, void *arg,
		     struct tokend_otp_status *status);

/* Revoke every refresh token of user (NULL: the caller); *count may be NULL. */
enum tokend_err	 tokend_token_revoke_all(struct tokend_conn *conn,
		     const char *user, uint32_t *count);

/*
 * Trade a refresh token for an access token, optionally with fewer scopes
 * and a shorter lifetime (seconds, 0: default).  access[TOKEND_TOKEN_SIZE]
 * receives the token; *info (may be NULL) its expiry and scopes.
 */
enum tokend_err	 tokend_token_exchange(struct tokend_conn *conn,
		     const char *refresh, const char *const *scopes,
		     unsigned nscopes, uint32_t lifetime, char *access,
		     struct tokend_token *info);

/*
 * Introspect a token (root and the verifier group only).  *active is 1 or
 * 0; when 1, *info (may be NULL) holds the token's owner, kind, expiry and
 * scopes.  For an access token, id is its own id (jti), parent its
 * refresh token's id, created its issue time (iat) and last_used that of
 * the refresh token.  An inactive token is TOKEND_OK with *active = 0.  A string that
 * is not a well-formed token gives TOKEND_E_FORMAT without a round trip.
 */
enum tokend_err	 tokend_token_verify(struct tokend_conn *conn,
		     const char *token, int *active, struct tokend_token *info);

#define TOKEND_STATUS_COUNTERS	64

struct tokend_status {
	char		version[32];
	int		healthy;
	unsigned	n;			/* counters (admins only; 0 otherwise) */
	struct {
		char		key[49];
		uint64_t	value;
	} counters[TOKEND_STATUS_COUNTERS];
};

/* Daemon version and health; admins also get counters. */
enum tokend_err	 tokend_status_get(struct tokend_conn *conn,
		     struct tokend_status *status);

/*
 * Check a token's format and checksum locally.  Returns TOKEND_OK and the
 * kind and public id (id[TOKEND_ID_SIZE], may be NULL; for an access token
 * the id of its refresh token), or TOKEND_E_FORMAT.
 */
enum tokend_err	 tokend_token_parse(const char *token, int *kind, char *id);

/* Overwrite len bytes with zeros in a way the compiler keeps. */
void		 tokend_wipe(void *p, size_t len);

/*
 * Copy text from the daemon (a token or user name, a PAM message) into
 * buf[size] fit for a terminal: control characters, DEL and the UTF-8 C1
 * controls (U+0080-U+009F, which some terminals take as escape sequences)
 * become '?'.  Token names are chosen by users; show them through this.
 */
void		 tokend_text_clean(const char *s, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TOKEND_H */
