/* SPDX-License-Identifier: ISC */
/*
 * Starting and reaping helper processes (helper.h).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "helper.h"
#include "util.h"

extern char	**environ;

static int	self_exe = -1;		/* our own binary */
static char	self_path[32];		/* "/proc/self/fd/N" */

int
helper_init(char **cause)
{
	int	fd;

	if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1)
		return cause_set(cause, "cannot open /proc/self/exe (needed to "
		    "start helper processes): %s", strerror(errno));
	/* Out of the way of fd 3, which each helper gets its socket as. */
	if ((self_exe = fcntl(fd, F_DUPFD_CLOEXEC, 10)) == -1)
		return cause_set(cause, "fcntl: %s", strerror(errno));
	close(fd);
	snprintf(self_path, sizeof(self_path), "/proc/self/fd/%d", self_exe);
	return 0;
}

const char *
helper_path(void)
{
	return self_path;
}

pid_t
helper_spawn(int fd, char *const argv[], int nice, int quiet)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, all;
	pid_t				 pid = -1;
	int				 tmp = -1, rc;

	/* dup2(3, 3) would leave close-on-exec set: move it first. */
	if (fd == 3 && (fd = tmp = fcntl(fd, F_DUPFD_CLOEXEC, 4)) == -1)
		return -1;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto out;
	}
	sigemptyset(&none);
	sigfillset(&all);
	/* No terminal for a helper: it reads nothing from stdin. */
	if ((rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
	    "/dev/null", O_RDONLY, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
	    "/dev/null", O_WRONLY, 0)) == 0 && quiet)
		rc = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO,
		    "/dev/null", O_WRONLY, 0);
	if (rc == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, fd, 3)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) == 0)
		rc = posix_spawn(&pid, self_path, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
out:
	if (tmp != -1)
		close(tmp);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	/* At once, not only in the child: loading the binary costs too. */
	setpriority(PRIO_PROCESS, pid, nice);
	return pid;
}

void
helper_log_exit(pid_t pid, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		log_warnx("helper %d died of signal %d", (int)pid,
		    WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("helper %d exited with status %d", (int)pid,
		    WEXITSTATUS(status));
}

void
helper_child_begin(const char *name, int socktype)
{
	int		type;
	socklen_t	len = sizeof(type);

	/* Before anything else: no core, no ptrace by its own user. */
	prctl(PR_SET_DUMPABLE, 0);
	/* Started through /proc/self/fd/N, it would be called "N" in ps. */
	prctl(PR_SET_NAME, name);
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != socktype) {
		fprintf(stderr, "tokend: this mode is for tokend's own use\n");
		_exit(2);
	}
	/* The daemon going away ends the helper too. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	closefrom(4);
}
