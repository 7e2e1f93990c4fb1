/* SPDX-License-Identifier: ISC */
/*
 * Logging: stderr with sd-daemon priority prefixes ("<6>...") when running
 * in the foreground (journald reads them), syslog otherwise.  Never pass a
 * secret to any of these.
 */
#ifndef TOKEND_LOG_H
#define TOKEND_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void	 log_init(int to_stderr, int debug);
void	 log_set_debug(int debug);
/*
 * Hand every line (priority, text) to relay instead: the engine, which
 * cannot reach syslog from its chroot, sends its lines to the monitor.
 * NULL: back to stderr or syslog.
 */
void	 log_set_relay(void (*relay)(int, const char *));
/* A line that came from elsewhere (the engine), logged as it is. */
void	 log_line(int pri, const char *msg);
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Start-up failures and broken invariants only: log, then exit(1). */
void	 fatal(const char *, ...)
	     __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	     __attribute__((format(printf, 1, 2), noreturn));

/* A Unix time as "2026-12-28 10:00:00 UTC", in buf. */
const char *log_time(int64_t t, char *buf, size_t size);

#endif /* TOKEND_LOG_H */
