/* SPDX-License-Identifier: ISC */
/*
 * The daemon's clock (clock.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static int	 offset_fd = -1;	/* TOKEND_TEST_CLOCK_FILE, opened at start */
static int64_t	 offset;
static struct timespec offset_mtime;

void
clock_init(void)
{
	const char	*path = getenv("TOKEND_TEST_CLOCK_FILE");

	if (path == NULL || path[0] == '\0' || offset_fd != -1)
		return;
	/*
	 * Opened now, before the engine's chroot and seccomp filter: read
	 * through the descriptor from then on (the test rewrites the file in
	 * place).  A missing file: no seam.
	 */
	if ((offset_fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 &&
	    errno != ENOENT)
		log_warn("test clock %s", path);
}

/* Re-read the offset when the file changed; a bad file leaves it alone. */
static void
clock_reload(void)
{
	struct stat	 st;
	char		 buf[32], *end;
	ssize_t		 n;
	long long	 v;

	if (fstat(offset_fd, &st) == -1)
		return;
	if (st.st_mtim.tv_sec == offset_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == offset_mtime.tv_nsec)
		return;
	n = pread(offset_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf || (*end != '\0' && *end != '\n'))
		return;
	if (v != offset)
		log_info("test clock: wall time moved by %lld s", v);
	offset = v;
	offset_mtime = st.st_mtim;
}

int64_t
clock_now(void)
{
	if (offset_fd != -1)
		clock_reload();
	return (int64_t)time(NULL) + offset;
}

int64_t
clock_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
