/* SPDX-License-Identifier: ISC */
/*
 * Users and their accounts, as the event loop sees them: every password
 * database (NSS) look-up and every PAM account check runs in one helper
 * process (accountchild.c), and the loop keeps their answers in a small
 * cache.  A slow LDAP or sssd then delays the requests that need its
 * answer, never anyone else's.
 *
 * Account re-check (SPEC.md): a token is usable only while its owner's
 * name still resolves to the uid it was issued to and the PAM account
 * phase of the tokend service accepts the user.  The answer is trusted
 * for account_recheck seconds; then users whose tokens were used since
 * are checked again in the background while their requests go on with
 * the last answer (for at most lookup_timeout), and a request for a user
 * idle since its last check waits for a fresh one.  Each account in use
 * costs one check per account_recheck.
 *
 * Each look-up returns at once: ACCOUNT_WAIT means the answer is on its
 * way, and conn_wake_lookups() is called when it (or any other) arrives,
 * so a request that got ACCOUNT_WAIT asks again then.
 */
#ifndef TOKEND_ACCOUNT_H
#define TOKEND_ACCOUNT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

enum account_answer {
	ACCOUNT_OK,		/* found / usable */
	ACCOUNT_NONE,		/* no such user / account disabled */
	ACCOUNT_WAIT,		/* asked; ask again after conn_wake_lookups() */
	ACCOUNT_ERROR,		/* the look-up failed (helper stuck or gone) */
};

/* Set up the timers; fatal problems only (no memory). */
int	 account_init(char **cause);
/* MON_ACCT_ANSWER or MON_ACCT_LOST from the monitor (its body). */
void	 account_message(int type, const uint8_t *, size_t);
void	 account_free(void);
/* The re-check timer follows account_recheck (start-up and SIGHUP). */
void	 account_configure(void);

/* The name of uid (copied to name[size]). */
enum account_answer account_name(uid_t uid, char *name, size_t size);
/* The uid of a user name. */
enum account_answer account_uid(const char *name, uid_t *uid);

/*
 * Whether the tokens of user name, issued to uid, may be used now.
 * *ref (may be NULL) is set to a handle that account_usable_ref() takes
 * instead of the pair, for caches; never 0.
 */
enum account_answer account_usable(uint32_t uid, const char *name,
	     int64_t now, uint32_t *ref);
enum account_answer account_usable_ref(uint32_t ref, int64_t now);
/* ISSUE's own PAM account phase just accepted name (uid). */
void	 account_seen_ok(uint32_t uid, const char *name, int64_t now);
/* For STATUS: look-ups waiting or under way, accounts disabled, checks made. */
unsigned account_pending(void);
unsigned account_disabled(void);
uint64_t account_checks(void);

/*
 * Between the monitor and the helper (SOCK_SEQPACKET, one frame each way
 * per request, answered in order): a request is a frame of one of the
 * REQ types with body { u32 uid, string name }; the answer a frame
 * ACCOUNT_MSG_ANSWER with body { u8 request type, u8 result, u32 uid,
 * string name, string detail }.  The engine's MON_ACCT_ASK carries the
 * type and that body; MON_ACCT_ANSWER the answer's body.
 */
#define ACCOUNT_REQ_BY_UID	0xe1	/* name of uid */
#define ACCOUNT_REQ_BY_NAME	0xe2	/* uid of name */
#define ACCOUNT_REQ_CHECK	0xe3	/* name still uid, PAM account phase ok */
#define ACCOUNT_MSG_ANSWER	0xe8

#define ACCOUNT_RES_OK		0
#define ACCOUNT_RES_NONE	1	/* no such user, or disabled (detail says why) */
#define ACCOUNT_RES_ERROR	2	/* the look-up itself failed */

#define ACCOUNT_HELPER_NICE	10

/* tokend --account-helper SERVICE CONFDIR (accountchild.c; never returns). */
int	 accountchild_main(int argc, char **argv) __attribute__((noreturn));

#endif /* TOKEND_ACCOUNT_H */
