/* SPDX-License-Identifier: ISC */
/*
 * Logging: one line per call, to stderr with an sd-daemon priority prefix
 * (journald strips it) or to syslog.  Lines are built in a fixed buffer,
 * truncated if need be, and control characters are replaced with '?' so a
 * user-supplied name cannot forge a second log line.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	1024

static int	log_to_stderr = 1;
static int	log_debug_on;
static void	(*log_relay)(int, const char *);

static void	log_vlog(int, const char *, int, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static void	log_write(int, const char *);

void
log_init(int to_stderr, int debug)
{
	log_to_stderr = to_stderr;
	log_debug_on = debug;
	if (!to_stderr)
		openlog("tokend", LOG_PID|LOG_NDELAY, LOG_DAEMON);
}

void
log_set_debug(int debug)
{
	log_debug_on = debug;
}

void
log_set_relay(void (*relay)(int, const char *))
{
	log_relay = relay;
}

/*
 * Format one message: optional prefix, the caller's text, and ": strerror"
 * when code is not 0.  The error text is kept even when the message has to
 * be truncated.  errno is preserved for the caller.
 */
static void
log_vlog(int pri, const char *prefix, int code, const char *fmt, va_list ap)
{
	char		 msg[LOG_LINE_MAX];
	const char	*errstr = NULL;
	size_t		 len, room, errlen = 0;
	int		 saved_errno = errno, n;
	unsigned char	*p;

	if (code != 0) {
		errstr = strerror(code);
		errlen = strlen(errstr) + 2;	/* ": " */
		if (errlen > sizeof msg / 2)
			errlen = sizeof msg / 2;
	}
	room = sizeof msg - errlen;

	len = 0;
	if (prefix != NULL) {
		n = snprintf(msg, room, "%s", prefix);
		if (n > 0)
			len = (size_t)n < room ? (size_t)n : room - 1;
	}
	msg[len] = '\0';
	n = vsnprintf(msg + len, room - len, fmt, ap);
	if (n < 0)
		snprintf(msg + len, room - len, "(unprintable log message)");
	len = strlen(msg);
	if (errstr != NULL)
		snprintf(msg + len, sizeof msg - len, ": %s", errstr);

	for (p = (unsigned char *)msg; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	log_write(pri, msg);
	errno = saved_errno;
}

/* One write(2) per line, so lines from several processes do not mix. */
static void
log_write(int pri, const char *msg)
{
	char	 line[LOG_LINE_MAX + 8];
	size_t	 len, off;
	ssize_t	 n;
	int	 r;

	if (log_relay != NULL) {
		log_relay(pri, msg);
		return;
	}
	if (!log_to_stderr) {
		syslog(pri, "%s", msg);
		return;
	}
	r = snprintf(line, sizeof line, "<%d>%s\n", pri, msg);
	if (r < 0)
		return;
	len = (size_t)r;
	if (len >= sizeof line) {
		len = sizeof line - 1;
		line[len - 1] = '\n';
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(STDERR_FILENO, line + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				n = 0;
			else
				return;
		}
	}
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_NOTICE, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	code = errno;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, NULL, code, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, NULL, 0, fmt, ap);
	va_end(ap);
}

/* fatal appends strerror(errno) when errno is set; fatalx never does. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	code = errno;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, "fatal: ", code, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_time(int64_t t, char *buf, size_t size)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, size, "%lld", (long long)t);
	else
		snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d UTC",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
	return buf;
}

void
log_line(int pri, const char *msg)
{
	char		 line[LOG_LINE_MAX];
	unsigned char	*p;

	if (pri == LOG_DEBUG && !log_debug_on)
		return;
	snprintf(line, sizeof(line), "%s", msg);
	for (p = (unsigned char *)line; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_write(pri, line);
}
