/* SPDX-License-Identifier: ISC */
/*
 * The engine's confinement (sandbox.h), in the order OpenSMTPD and
 * OpenSSH do it: chroot while still root, drop to the engine's user with
 * no supplementary groups, no new privileges, then, once everything the
 * engine opens is open, Landlock (no file system access at all) and a
 * seccomp filter that allows only the system calls the event loop and
 * the writer thread make.
 *
 * Why chroot and Landlock both: chroot needs root, so it only applies
 * when tokend starts as root, but it works on every kernel; Landlock
 * (Linux 5.13 and later) also confines an unprivileged start (the tests)
 * and forbids every path, not just those outside db_dir.  After the store
 * is open the engine needs no path at all.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "log.h"
#include "proto.h"
#include "sandbox.h"
#include "util.h"

/*
 * A sanitizer build's leak check runs at exit: it reads /proc/self/task
 * and /proc/self/maps and stops the threads with ptrace.  There the engine
 * keeps /proc readable (no chroot; Landlock allows reading /proc) and has
 * no seccomp filter, and says so once in the log.
 */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECK	1
#else
#define LEAK_CHECK	0
#endif

int
sandbox_drop(const char *dir, uid_t uid, gid_t gid, char **cause)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg;

	if (geteuid() == 0) {
		if (LEAK_CHECK) {
			if (chdir(dir) == -1)
				return cause_set(cause, "chdir %s: %s", dir,
				    strerror(errno));
		} else {
			if (chroot(dir) == -1)
				return cause_set(cause, "chroot %s: %s", dir,
				    strerror(errno));
			if (chdir("/") == -1)
				return cause_set(cause, "chdir /: %s",
				    strerror(errno));
		}
		if (setgroups(0, NULL) == -1)
			return cause_set(cause, "setgroups: %s", strerror(errno));
		if (setresgid(gid, gid, gid) == -1)
			return cause_set(cause, "setresgid %u: %s",
			    (unsigned)gid, strerror(errno));
		if (setresuid(uid, uid, uid) == -1)
			return cause_set(cause, "setresuid %u: %s",
			    (unsigned)uid, strerror(errno));
	} else if (chdir(dir) == -1)
		return cause_set(cause, "chdir %s: %s", dir, strerror(errno));
	/* Make sure: no way back to root, nor to another group. */
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid || (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)))
		return cause_set(cause, "the engine kept privileges it must not "
		    "have");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return cause_set(cause, "PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
	/* setresuid cleared it; and no core, no ptrace by its own user. */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		return cause_set(cause, "PR_SET_DUMPABLE: %s", strerror(errno));
	return 0;
}

/* ---- Landlock: no file system access at all ---- */

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION	(1U << 0)
#endif

static int
sandbox_landlock_proc(int ruleset, char **cause)
{
	struct landlock_path_beneath_attr	rule;
	int					rc;

	memset(&rule, 0, sizeof(rule));
	rule.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR;
	if ((rule.parent_fd = open("/proc", O_PATH | O_CLOEXEC)) == -1)
		return cause_set(cause, "/proc: %s", strerror(errno));
	rc = (int)syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(rule.parent_fd);
	if (rc == -1)
		return cause_set(cause, "landlock_add_rule /proc: %s",
		    strerror(errno));
	return 0;
}

static int
sandbox_landlock(char **cause)
{
	struct landlock_ruleset_attr	attr;
	long				abi;
	int				fd;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_info("landlock is not available (%s): the engine relies "
		    "on %s and its seccomp filter for file access",
		    strerror(errno), geteuid() == 0 || getuid() == 0 ?
		    "its chroot" : "its user's permissions");
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	/* Every right of ABI 1 (bits 0-12), REFER (2), TRUNCATE (3). */
	attr.handled_access_fs = (1ULL << 13) - 1;
	if (abi >= 2)
		attr.handled_access_fs |= 1ULL << 13;
	if (abi >= 3)
		attr.handled_access_fs |= 1ULL << 14;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd == -1)
		return cause_set(cause, "landlock_create_ruleset: %s",
		    strerror(errno));
	/* No rule added: nothing is allowed (but /proc, for a leak check). */
	if (LEAK_CHECK && sandbox_landlock_proc(fd, cause) == -1) {
		close(fd);
		return -1;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		close(fd);
		return cause_set(cause, "landlock_restrict_self: %s",
		    strerror(errno));
	}
	close(fd);
	return 0;
}

/* ---- seccomp ---- */

/*
 * What the engine calls once it serves: the event loop (epoll, sockets,
 * timers through libevent), the store (LMDB: reads and writes through its
 * open files and mappings, fsync), the writer thread (futexes), memory,
 * libsodium's randomness, clocks and leaving.
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(lseek),
	/* LMDB built with MDB_USE_PWRITEV writes its pages so */
	SCMP_SYS(pwritev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(fcntl), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(msync),
	SCMP_SYS(accept4), SCMP_SYS(getsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* mmap and mprotect: below, never executable */
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(mlock), SCMP_SYS(munlock),
	SCMP_SYS(futex), SCMP_SYS(sched_yield),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(getrandom),
	/* glibc's qsort asks how much memory there is (last-used flushes) */
	SCMP_SYS(sysinfo),
	/* abort(): getpid, gettid, rt_sigaction, tgkill */
	SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigaction), SCMP_SYS(tgkill),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	/* glibc at the start of a thread, which may run after the filter */
	SCMP_SYS(rseq), SCMP_SYS(set_robust_list),
};

static int	trap_fd = -1;

/* A call the filter refused: say which, on the channel to the monitor, and die. */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char			msg[120], digits[12];
	uint8_t			frame[8 + 3 + sizeof(msg)];
	const char		*pre = "seccomp: the engine made system call ";
	const char		*post = ", which its filter forbids (ausyscall "
				    "names it); stopping";
	size_t			n = 0, nd = 0, len, i;
	unsigned		nr = (unsigned)si->si_syscall;

	(void)sig;
	(void)ctx;
	do {
		digits[nd++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr != 0 && nd < sizeof(digits));
	for (i = 0; pre[i] != '\0' && n < sizeof(msg); i++)
		msg[n++] = pre[i];
	while (nd > 0 && n < sizeof(msg))
		msg[n++] = digits[--nd];
	for (i = 0; post[i] != '\0' && n < sizeof(msg); i++)
		msg[n++] = post[i];
	/* A MON_LOG frame, built by hand: nothing else is safe here. */
	len = 3 + n;
	frame[0] = TOKEND_MAGIC0;
	frame[1] = TOKEND_MAGIC1;
	frame[2] = TOKEND_PROTO_VERSION;
	frame[3] = 0xd8;		/* MON_LOG */
	frame[4] = 0;
	frame[5] = 0;
	frame[6] = (uint8_t)(len >> 8);
	frame[7] = (uint8_t)len;
	frame[8] = 3;			/* LOG_ERR */
	frame[9] = (uint8_t)(n >> 8);
	frame[10] = (uint8_t)n;
	memcpy(frame + 11, msg, n);
	/* The monitor logs it; stderr only when it cannot be told. */
	if (trap_fd == -1 || write(trap_fd, frame, 11 + n) == -1) {
		(void)!write(STDERR_FILENO, msg, n);
		(void)!write(STDERR_FILENO, "\n", 1);
	}
	_exit(159);
}

static int
sandbox_seccomp(int report_fd, char **cause)
{
	struct sigaction	 sa;
	scmp_filter_ctx		 ctx;
	size_t			 i;
	int			 rc;

	trap_fd = report_fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return cause_set(cause, "sigaction SIGSYS: %s", strerror(errno));
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return cause_set(cause, "seccomp_init failed");
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i],
		    0)) < 0) {
			seccomp_release(ctx);
			return cause_set(cause, "seccomp_rule_add: %s",
			    strerror(-rc));
		}
	/* Memory, but never executable memory: no code can be brought in. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0) {
		seccomp_release(ctx);
		return cause_set(cause, "seccomp_rule_add: %s", strerror(-rc));
	}
	/*
	 * Opening a file fails (as Landlock would make it), rather than ends
	 * the engine: glibc looks at /proc/sys/vm/overcommit_memory, say,
	 * when it first gives memory back, and copes when it cannot.
	 */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat),
	    0)) < 0 || (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
	    SCMP_SYS(open), 0)) < 0) {
		seccomp_release(ctx);
		return cause_set(cause, "seccomp_rule_add: %s", strerror(-rc));
	}
	/* Every thread: the writer thread runs already. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_load(ctx)) < 0) {
		seccomp_release(ctx);
		return cause_set(cause, "seccomp_load: %s", strerror(-rc));
	}
	seccomp_release(ctx);
	return 0;
}

/*
 * The fleet process (fleet.c): libpq opens sockets to wherever the
 * conninfo says and reads files (passfile, certificates, /etc/hosts), so
 * no allowlist fits it; what it never needs is refused: running a
 * program, tracing, changing ids or namespaces, mounting, kernel keys
 * and modules, BPF.
 */
int
sandbox_fleet(char **cause)
{
	static const int	 denied[] = {
		SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
		SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
		SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
		SCMP_SYS(chroot), SCMP_SYS(setuid), SCMP_SYS(setgid),
		SCMP_SYS(setreuid), SCMP_SYS(setregid), SCMP_SYS(setresuid),
		SCMP_SYS(setresgid), SCMP_SYS(setgroups), SCMP_SYS(setfsuid),
		SCMP_SYS(setfsgid), SCMP_SYS(capset), SCMP_SYS(unshare),
		SCMP_SYS(setns), SCMP_SYS(init_module), SCMP_SYS(finit_module),
		SCMP_SYS(delete_module), SCMP_SYS(kexec_load),
		SCMP_SYS(kexec_file_load), SCMP_SYS(bpf),
		SCMP_SYS(perf_event_open), SCMP_SYS(keyctl), SCMP_SYS(add_key),
		SCMP_SYS(request_key), SCMP_SYS(personality), SCMP_SYS(reboot),
		SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(acct),
		SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
		SCMP_SYS(userfaultfd), SCMP_SYS(iopl), SCMP_SYS(ioperm),
		SCMP_SYS(syslog),
	};
	scmp_filter_ctx		 ctx;
	size_t			 i;
	int			 rc;

	if (LEAK_CHECK)
		return 0;	/* as for the engine: LeakSanitizer needs ptrace */
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return cause_set(cause, "seccomp_init failed");
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i],
		    0)) < 0 && rc != -EDOM) {
			seccomp_release(ctx);
			return cause_set(cause, "seccomp_rule_add: %s",
			    strerror(-rc));
		}
	if ((rc = seccomp_load(ctx)) < 0) {
		seccomp_release(ctx);
		return cause_set(cause, "seccomp_load: %s", strerror(-rc));
	}
	seccomp_release(ctx);
	return 0;
}

int
sandbox_paths(char **cause)
{
	return sandbox_landlock(cause);
}

int
sandbox_syscalls(int report_fd, char **cause)
{
	if (LEAK_CHECK) {
		log_info("sanitizer build: the engine runs without its seccomp "
		    "filter or chroot, and may read /proc (the leak check)");
		return 0;
	}
	return sandbox_seccomp(report_fd, cause);
}
