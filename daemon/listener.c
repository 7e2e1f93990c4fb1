/* SPDX-License-Identifier: ISC */
/*
 * The listening socket: bound (or taken from systemd) by the monitor,
 * watched by the engine, which accepts with the connection limits and
 * takes the caller's identity from SO_PEERCRED.  What happens on a
 * connection afterwards is conn.c's.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "util.h"

#define MAX_GROUPS	256
#define ACCEPT_PAUSE_MS	250	/* out of descriptors: try again after this */

static void	listener_accept_cb(evutil_socket_t, short, void *);
static void	listener_resume_cb(evutil_socket_t, short, void *);

static struct event	*ev_resume;
static int		 paused;

int
listener_inherited(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int		 fd = 3;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return fd;
}

/*
 * The socket's folder (/run/tokend) is gone after a reboot unless
 * something made it again: make it, 0755 so that everybody reaches the
 * socket.  Only the last component; its parent must exist.
 */
static int
listener_mkdir(const char *path, char **cause)
{
	char	 dir[PATH_MAX], *slash;

	if (strlen(path) >= sizeof(dir))
		return cause_set(cause, "socket path too long: %s", path);
	memcpy(dir, path, strlen(path) + 1);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) == -1) {
		if (errno == EEXIST)
			return 0;
		return cause_set(cause, "cannot create %s for the socket: %s",
		    dir, strerror(errno));
	}
	/* umask 077 is in force: say 0755 outright. */
	if (chmod(dir, 0755) == -1)
		return cause_set(cause, "chmod %s: %s", dir, strerror(errno));
	log_info("created %s for the socket", dir);
	return 0;
}

int
listener_bind(const char *path, char **cause)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return cause_set(cause, "socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (listener_mkdir(path, cause) == -1)
		return -1;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return cause_set(cause, "%s exists and is not a socket",
			    path);
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			return cause_set(cause, "another tokend is already "
			    "listening on %s", path);
		}
		if (probe != -1)
			close(probe);
		if (unlink(path) == -1)
			return cause_set(cause, "cannot remove stale socket %s: %s",
			    path, strerror(errno));
		log_info("removed stale socket %s", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return cause_set(cause, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		cause_set(cause, "cannot bind %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Anyone may connect: identity comes from SO_PEERCRED. */
	if (chmod(path, 0666) == -1) {
		cause_set(cause, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, 128) == -1) {
		cause_set(cause, "listen: %s", strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
listener_open(int fd, char **cause)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		return cause_set(cause, "listening socket: %s", strerror(errno));
	td->listen_fd = fd;
	td->ev_accept = event_new(td->base, fd, EV_READ | EV_PERSIST,
	    listener_accept_cb, NULL);
	ev_resume = evtimer_new(td->base, listener_resume_cb, NULL);
	if (td->ev_accept == NULL || ev_resume == NULL ||
	    event_add(td->ev_accept, NULL) == -1)
		return cause_set(cause, "cannot watch the listening socket");
	return 0;
}

void
listener_close(void)
{
	if (td->ev_accept != NULL) {
		event_free(td->ev_accept);
		td->ev_accept = NULL;
	}
	if (ev_resume != NULL) {
		event_free(ev_resume);
		ev_resume = NULL;
	}
	if (td->listen_fd != -1) {
		close(td->listen_fd);
		td->listen_fd = -1;
	}
}

/* Membership of gid among the peer's primary and supplementary groups. */
static int
peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t		groups[MAX_GROUPS];
	socklen_t	len = sizeof(groups);
	size_t		i;

	if (primary == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* Tell a refused client why, without waiting for it. */
static void
refuse(int fd, int code, const char *message)
{
	struct wbuf	w;
	ssize_t		n;

	wbuf_init(&w);
	enc_error(&w, code, message);
	if (!w.failed)
		n = send(fd, w.data, w.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	wbuf_free(&w);
	close(fd);
	td->stats.conns_refused++;
}

/*
 * Out of descriptors (or kernel memory): the connection stays in the
 * listen queue.  Stop accepting for a moment instead of spinning on the
 * same error, and say so once per episode.
 */
static void
listener_pause(int err)
{
	struct timeval	tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	if (!paused)
		log_warnx("accept: %s; pausing accepts for %d ms at a time "
		    "until descriptors free up", strerror(err), ACCEPT_PAUSE_MS);
	paused = 1;
	event_del(td->ev_accept);
	event_add(ev_resume, &tv);
}

static void
listener_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (td->ev_accept != NULL)
		event_add(td->ev_accept, NULL);
}

static void
listener_accept_cb(evutil_socket_t lfd, short events, void *arg)
{
	struct ucred	 cred;
	struct peer	 peer;
	socklen_t	 len = sizeof(cred);
	struct conn	*c;
	int		 fd;

	(void)events;
	(void)arg;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			listener_pause(errno);
		else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (paused) {
		log_info("accepting connections again");
		paused = 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (td->stopping) {
		refuse(fd, PERR_SHUTDOWN, "tokend is shutting down");
		return;
	}
	if (conn_count() >= td->conf.max_connections) {
		log_warnx("refused uid %u pid %d: %u connections, the maximum",
		    (unsigned)cred.uid, (int)cred.pid, conn_count());
		refuse(fd, PERR_BUSY, "too many connections");
		return;
	}
	if (conn_count_uid(cred.uid) >= td->conf.max_connections_per_uid) {
		log_warnx("refused uid %u pid %d: per-user connection limit "
		    "(%u) reached", (unsigned)cred.uid, (int)cred.pid,
		    td->conf.max_connections_per_uid);
		refuse(fd, PERR_BUSY, "too many connections from this user");
		return;
	}
	memset(&peer, 0, sizeof(peer));
	peer.uid = cred.uid;
	peer.gid = cred.gid;
	peer.pid = cred.pid;
	peer.is_admin = cred.uid == 0 ||
	    (td->have_admin_gid && peer_in_group(fd, cred.gid, td->admin_gid));
	peer.is_verifier = cred.uid == 0 || (td->have_verifier_gid &&
	    peer_in_group(fd, cred.gid, td->verifier_gid));
	if ((c = conn_new(fd, &peer)) == NULL) {
		log_warnx("accept: out of memory");
		return;
	}
	td->stats.conns_accepted++;
	log_debug("connection from uid %u pid %d%s%s", (unsigned)peer.uid,
	    (int)peer.pid, peer.is_admin ? " (admin)" : "",
	    peer.is_verifier ? " (verifier)" : "");
}
