/* SPDX-License-Identifier: ISC */
/*
 * One-time-code enrolment files (otp.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otp.h"

int
otp_path(const char *dir, const char *user, char *buf, size_t size)
{
	int	n = snprintf(buf, size, "%s/%s.oath", dir, user);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
otp_mkdir(const char *dir)
{
	struct stat	st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST || lstat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	/* Secrets go only where nobody but their writer can look. */
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
otp_stat(const char *dir, const char *user, int64_t *since)
{
	struct stat	st;
	char		path[4096];

	*since = 0;
	if (otp_path(dir, user, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	*since = (int64_t)st.st_mtime;
	return 1;
}

/* The directory holding path has a new or removed name: make it stick. */
static int
otp_sync_dir(const char *dir)
{
	int	fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
otp_write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
otp_write(const char *dir, const char *user, const uint8_t *key, size_t len,
    int replace)
{
	static const char	 hex[] = "0123456789abcdef";
	char			 path[4096], tmp[4096 + 16], line[512];
	size_t			 i, n;
	int			 fd, rc = -1, saved;

	if (otp_path(dir, user, path, sizeof(path)) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, user) >=
	    sizeof(tmp) || len * 2 + strlen(user) + 32 > sizeof(line)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (otp_mkdir(dir) == -1)
		return -1;
	n = (size_t)snprintf(line, sizeof(line), "HOTP/T30/6\t%s\t-\t", user);
	for (i = 0; i < len; i++) {
		line[n++] = hex[key[i] >> 4];
		line[n++] = hex[key[i] & 0x0f];
	}
	line[n++] = '\n';
	if ((fd = mkstemp(tmp)) == -1)
		goto done;
	if (fchmod(fd, 0600) == -1 || otp_write_all(fd, line, n) == -1 ||
	    fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		goto done;
	}
	if (close(fd) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto done;
	}
	/* link(2) fails when the name exists: create-only, atomically. */
	if (replace ? rename(tmp, path) == -1 : link(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto done;
	}
	if (!replace)
		unlink(tmp);
	/*
	 * The secret is in place: a folder that will not sync is the
	 * system's trouble, not the enrolment's (a crash may lose it).
	 */
	(void)otp_sync_dir(dir);
	rc = 0;
done:
	explicit_bzero(line, sizeof(line));
	return rc;
}

int
otp_remove(const char *dir, const char *user)
{
	char	path[4096];

	if (otp_path(dir, user, path, sizeof(path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(path) == -1)
		return errno == ENOENT ? 0 : -1;
	(void)otp_sync_dir(dir);
	return 1;
}

int
otp_base32(const uint8_t *key, size_t len, char *out, size_t size)
{
	static const char	alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint32_t		buf = 0;
	size_t			i, n = 0;
	int			bits = 0;

	if (size < (len * 8 + 4) / 5 + 1)
		return -1;
	for (i = 0; i < len; i++) {
		buf = (buf << 8) | key[i];
		bits += 8;
		while (bits >= 5) {
			out[n++] = alphabet[(buf >> (bits - 5)) & 0x1f];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[n++] = alphabet[(buf << (5 - bits)) & 0x1f];
	out[n] = '\0';
	return 0;
}

/* Append s percent-encoded (all but RFC 3986's unreserved characters). */
static int
otp_put_escaped(char *out, size_t size, size_t *n, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (*n + 1 >= size)
				return -1;
			out[(*n)++] = (char)c;
			continue;
		}
		if (*n + 3 >= size)
			return -1;
		out[(*n)++] = '%';
		out[(*n)++] = hex[c >> 4];
		out[(*n)++] = hex[c & 0x0f];
	}
	out[*n] = '\0';
	return 0;
}

int
otp_uri(const char *user, const char *host, const char *b32, char *out,
    size_t size)
{
	size_t	n;
	int	w;

	w = snprintf(out, size, "otpauth://totp/tokend:");
	if (w < 0 || (size_t)w >= size)
		return -1;
	n = (size_t)w;
	if (otp_put_escaped(out, size, &n, user) == -1 ||
	    otp_put_escaped(out, size, &n, "@") == -1 ||
	    otp_put_escaped(out, size, &n, host) == -1)
		return -1;
	w = snprintf(out + n, size - n, "?secret=%s&issuer=tokend&"
	    "algorithm=SHA1&digits=%d&period=%d", b32, OTP_DIGITS, OTP_PERIOD);
	if (w < 0 || (size_t)w >= size - n)
		return -1;
	return 0;
}
