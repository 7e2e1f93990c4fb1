/* SPDX-License-Identifier: ISC */
/*
 * OTP status and removal by an admin, the engine's side (otpask.c): a
 * question to the monitor, which owns otp_dir, answered on the client's
 * connection.  Enrolment and a user's own removal go through PAM instead
 * (pamhelper.h, modes MON_PAM_MODE_ENROLL and _REMOVE).
 */
#ifndef TOKEND_OTPASK_H
#define TOKEND_OTPASK_H

#include <stddef.h>
#include <stdint.h>

struct conn;

#define OTPASK_MAX	64	/* questions out at once, all clients */

/*
 * Ask whether user is enrolled (OTP_STATUS) or remove the enrolment
 * (OTP_REMOVE; the caller was found to be an admin).  0: c waits for the
 * answer.  -1: an ERROR is queued on c.
 */
int	 otpask_request(struct conn *c, int op, const char *user);
/* MON_OTP_ANSWER from the monitor (its body). */
void	 otpask_message(const uint8_t *body, size_t len);

#endif /* TOKEND_OTPASK_H */
