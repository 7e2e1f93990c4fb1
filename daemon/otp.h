/* SPDX-License-Identifier: ISC */
/*
 * One-time-code enrolment files: otp_dir/USER.oath, one line in the
 * users-file format of pam_oath (`HOTP/T30/6 USER - HEX`), so that a PAM
 * stack with `pam_oath.so usersfile=OTP_DIR/${USER}.oath` checks the
 * codes.  Only root's side of tokend touches them: the PAM helper writes
 * an enrolment after the user typed a matching code, the monitor answers
 * "is U enrolled" and removes one for an admin.
 */
#ifndef TOKEND_OTP_H
#define TOKEND_OTP_H

#include <stddef.h>
#include <stdint.h>

#define OTP_KEY_BYTES	20	/* 160 bits, RFC 4226's recommendation */
#define OTP_DIGITS	6
#define OTP_PERIOD	30	/* seconds per code */
#define OTP_B32_SIZE	(((OTP_KEY_BYTES * 8) + 4) / 5 + 1)
#define OTP_URI_MAX	512

/* otp_dir/USER.oath into buf; -1 when it does not fit. */
int	 otp_path(const char *dir, const char *user, char *buf, size_t size);
/*
 * Make dir (0700) when it is missing; 0, or -1 with errno (EPERM: it
 * exists but is not the caller's, or group or others may enter it).
 */
int	 otp_mkdir(const char *dir);
/*
 * Is user enrolled: 1 (and *since, the file's modification time), 0 when
 * there is no file, -1 with errno when it cannot be told (or the name is
 * not a regular file: EINVAL).
 */
int	 otp_stat(const char *dir, const char *user, int64_t *since);
/*
 * Write user's file with key[len] atomically (a temporary file, fsync,
 * then rename or link, fsync of dir), mode 0600.  replace 0: only when
 * none exists (-1 with EEXIST otherwise), so an enrolment made with the
 * password alone never overwrites one made meanwhile.  0 or -1 with errno.
 */
int	 otp_write(const char *dir, const char *user, const uint8_t *key,
	     size_t len, int replace);
/* Remove user's file: 1 when it was there, 0 when not, -1 with errno. */
int	 otp_remove(const char *dir, const char *user);

/* RFC 4648 base32 of key[len], no padding, into out[size]; -1 if small. */
int	 otp_base32(const uint8_t *key, size_t len, char *out, size_t size);
/*
 * The otpauth:// URI authenticator apps read (Key Uri Format): label
 * "tokend:USER@HOST", issuer tokend, SHA1, 6 digits, 30 s.  -1 if small.
 */
int	 otp_uri(const char *user, const char *host, const char *b32,
	     char *out, size_t size);

#endif /* TOKEND_OTP_H */
