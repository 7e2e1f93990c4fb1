/* SPDX-License-Identifier: ISC */
/*
 * PAM for ISSUE, the engine's side: one helper process per transaction
 * (pamchild.c), started by the monitor on the engine's request, its
 * conversation relayed between the helper and the client, each step timed
 * by the event loop.  OpenSSH's reason for a separate process holds here
 * too: PAM modules block for seconds and are not assumed thread-safe; and
 * PAM needs root, which the engine does not have.
 *
 * Fairness: max_pam_helpers run at once; a caller uid (root excepted)
 * has at most max_pam_per_uid running and max_pam_queued_per_uid
 * waiting, and an ISSUE waits at most pam_timeout for a helper, so one
 * user holding prompts open cannot keep others from logging in.  The
 * failed-authentication bucket of the user is taken when the helper
 * starts and given back only on success: a timeout, a crash or a client
 * that hangs up counts as a failure.
 */
#ifndef TOKEND_PAMHELPER_H
#define TOKEND_PAMHELPER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct conn;
struct msg_issue;

#define PAMHELPER_MSG_RESULT	0xf0	/* helper -> monitor: u8 ok, u32 uid, string why */
#define PAMHELPER_NICE		19	/* below the event loop (pamchild.c) */

/*
 * PAM said yes for issue->user (uid), and in mode (MON_PAM_MODE_*) the
 * helper did its part: the dispatcher makes the token or answers the OTP
 * request.  It must end the request on c (conn_done) or hand it on
 * (conn_wait); issue is freed when it returns.
 */
typedef void (*pamhelper_ok_fn)(struct conn *, const struct msg_issue *,
    uid_t uid, int mode);

void	 pamhelper_init(pamhelper_ok_fn);
/*
 * Start or queue the ISSUE m (taken over) for user m->user (uid) on c,
 * whose caller is ruser; mode MON_PAM_MODE_ENROLL or _REMOVE for an OTP
 * request (m holds only the user).  0: under way, c waits.  -1: refused,
 * an ERROR is queued on c and m is freed.
 */
int	 pamhelper_request(struct conn *c, struct msg_issue *m, uid_t uid,
	     const char *ruser, int mode);
/*
 * user (uid) has failed to authenticate too often lately: 1, with the
 * refusal sent on c saying when to try again.  take: use up one try from
 * the bucket (a helper starts), else only look.
 */
int	 pamhelper_limited(struct conn *c, const char *user, uid_t uid,
	     int take);
/* A CONV_REPLY body from c's client for its helper. */
void	 pamhelper_reply(struct conn *c, const uint8_t *, size_t);
/* MON_PAM_CONV or MON_PAM_RESULT from the monitor (its body). */
void	 pamhelper_message(int type, const uint8_t *, size_t);
unsigned pamhelper_running(void);
unsigned pamhelper_queued(void);

/* tokend --pam-helper ...: the helper process (pamchild.c; never returns). */
int	 pamchild_main(int argc, char **argv) __attribute__((noreturn));

#endif /* TOKEND_PAMHELPER_H */
