/*
 * The daemon's clock (clock.h).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static char	*offset_file;		/* TOKEND_TEST_CLOCK_FILE, or NULL */
static int64_t	 offset;
static struct timespec offset_mtime;
static ino_t	 offset_ino;

void
clock_init(void)
{
	const char	*path = getenv("TOKEND_TEST_CLOCK_FILE");

	if (path == NULL || path[0] == '\0')
		return;
	if ((offset_file = strdup(path)) == NULL)
		fatal("strdup");
}

/* Re-read the offset when the file changed; a bad file leaves it alone. */
static void
clock_reload(void)
{
	struct stat	 st;
	char		 buf[32], *end;
	ssize_t		 n;
	long long	 v;
	int		 fd;

	if (stat(offset_file, &st) == -1)
		return;
	if (st.st_ino == offset_ino &&
	    st.st_mtim.tv_sec == offset_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == offset_mtime.tv_nsec)
		return;
	if ((fd = open(offset_file, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf || (*end != '\0' && *end != '\n'))
		return;
	if (v != offset)
		log_info("test clock: wall time moved by %lld s (%s)", v,
		    offset_file);
	offset = v;
	offset_ino = st.st_ino;
	offset_mtime = st.st_mtim;
}

int64_t
clock_now(void)
{
	if (offset_file != NULL)
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
