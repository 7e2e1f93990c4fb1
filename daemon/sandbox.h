/* SPDX-License-Identifier: ISC */
/*
 * Confining the engine (sandbox.c).
 */
#ifndef TOKEND_SANDBOX_H
#define TOKEND_SANDBOX_H

#include <sys/types.h>

/*
 * Become uid/gid for good, with no supplementary groups and no new
 * privileges, chrooted to dir when started as root (else just in dir).
 * A sanitizer build does not chroot: its leak check reads /proc.
 */
int	 sandbox_drop(const char *dir, uid_t uid, gid_t gid, char **cause);
/*
 * Once every file is open and before any thread starts (Landlock binds
 * the calling thread and those it starts later): no file system access
 * at all, where the kernel has Landlock.
 */
int	 sandbox_paths(char **cause);
/*
 * Once every thread runs: only the system calls the engine makes
 * (seccomp, on every thread).  A refused call is reported on report_fd
 * (the channel to the monitor) and ends the engine.
 */
int	 sandbox_syscalls(int report_fd, char **cause);
/* The fleet process: a filter of what it never needs (sandbox.c). */
int	 sandbox_fleet(char **cause);

#endif /* TOKEND_SANDBOX_H */
