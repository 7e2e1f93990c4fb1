/* SPDX-License-Identifier: ISC */
/*
 * Helper processes: tokend starts its own binary afresh (posix_spawn,
 * i.e. vfork + exec, of /proc/self/exe opened at start-up) with a flag
 * that names the helper's job and one end of a socketpair as its fd 3.
 * A fork of the daemon would copy its page tables inside the event loop
 * and make every page it writes afterwards a copy-on-write fault, felt
 * by each VERIFY; and a fresh image holds none of the daemon's memory.
 */
#ifndef TOKEND_HELPER_H
#define TOKEND_HELPER_H

#include <sys/types.h>

/* Open our own binary (once, at start-up, before anything can replace it). */
int	 helper_init(char **cause);
/*
 * Start a helper: argv[0] is its name, argv[1] its flag; fd becomes its
 * fd 3, stdin and stdout are /dev/null (stderr too when quiet), every
 * other descriptor is closed; it runs at priority nice.
 * Returns its pid, or -1 with errno set.
 */
pid_t	 helper_spawn(int fd, char *const argv[], int nice, int quiet);
/* What the helper's binary is started as, for messages. */
const char *helper_path(void);
/* Log how a helper ended when it crashed or failed (not when killed). */
void	 helper_log_exit(pid_t pid, int status);
/*
 * In a helper, first thing: no core dumps, no ptrace by its own user, a
 * name for ps, and fd 3 must be a socket of type socktype; otherwise
 * nobody meant to start it and it stops (exit 2).
 */
void	 helper_child_begin(const char *name, int socktype);

#endif /* TOKEND_HELPER_H */
