/*
 * PAM in a child process, one per ISSUE (OpenSSH's reason: PAM modules
 * block for seconds and are not assumed thread-safe).  The child is the
 * tokend binary started afresh (posix_spawn, i.e. vfork + exec, of
 * /proc/self/exe opened at start-up) with --pam-helper: a fork of the
 * daemon would copy its page tables inside the event loop and make every
 * page it writes afterwards a copy-on-write fault, felt by each VERIFY;
 * and a fresh image holds none of the daemon's memory.  The child runs
 * pam_authenticate + pam_acct_mgmt for the user and sends each
 * conversation call to the daemon as a CONV frame over a SOCK_SEQPACKET
 * socketpair; the daemon relays it to the client and the client's
 * CONV_REPLY back.  The event loop never waits: each step has a timer,
 * and a helper that hangs or dies is killed, reaped and reported.
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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "daemon.h"
#include "log.h"
#include "ratelimit.h"
#include "token.h"
#include "util.h"

#define MSG_HELPER_RESULT	0xf0	/* child -> daemon only, never on the client socket */
#define HELPER_BUF		(TOKEND_HDR_LEN + TOKEND_FRAME_MAX)
#define PAMHELPER_NICE		19	/* below the event loop (see child_main) */

struct pamhelper {
	pid_t		 pid;
	int		 fd;
	struct conn	*c;
	struct event	*ev_read;
	struct event	*ev_timer;	/* conversation step, then failure delay */
	int		 nprompts;	/* messages in the CONV awaiting a reply; 0: none */
	int		 failed;	/* waiting out the failure delay */
	char		 user[TOKEND_USER_MAX + 1];
};

static void	pamhelper_read_cb(evutil_socket_t, short, void *);

static int	self_exe = -1;		/* our own binary, for the helpers */
static char	self_path[32];		/* "/proc/self/fd/N" */

extern char	**environ;
static void	pamhelper_timer_cb(evutil_socket_t, short, void *);

/* ---- child side ---- */

static int	child_fd = -1;

static void
child_send(const struct wbuf *w)
{
	if (w->failed || send(child_fd, w->data, w->len, MSG_NOSIGNAL) == -1)
		_exit(2);
}

/* The daemon applies its own fixed delay, without blocking anything. */
static void
child_fail_delay(int retval, unsigned usec, void *arg)
{
	(void)retval;
	(void)usec;
	(void)arg;
}

static int
child_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	static uint8_t		 buf[HELPER_BUF];
	struct msg_conv		*m = NULL;
	struct msg_conv_reply	*r = NULL;
	struct pam_response	*out = NULL;
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	ssize_t			 len;
	int			 i, rc = PAM_CONV_ERR;

	(void)arg;
	*resp = NULL;
	wbuf_init(&w);
	if (n <= 0 || n > TOKEND_CONV_MAX)
		return PAM_CONV_ERR;
	m = calloc(1, sizeof(*m));
	r = calloc(1, sizeof(*r));
	out = calloc((size_t)n, sizeof(*out));
	if (m == NULL || r == NULL || out == NULL)
		goto done;
	m->n = (uint8_t)n;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style < PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style > PAM_TEXT_INFO)
			goto done;
		m->style[i] = (uint8_t)msg[i]->msg_style;
		snprintf(m->text[i], sizeof(m->text[i]), "%s",
		    msg[i]->msg ? msg[i]->msg : "");
	}
	enc_conv(&w, m);
	child_send(&w);
	len = recv(child_fd, buf, sizeof(buf), 0);
	if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
	    hdr.type != MSG_CONV_REPLY ||
	    (size_t)len != TOKEND_HDR_LEN + hdr.length ||
	    dec_conv_reply(buf + TOKEND_HDR_LEN, hdr.length, r) == -1 ||
	    r->n != n)
		goto done;
	for (i = 0; i < n; i++) {
		if (m->style[i] != PAM_PROMPT_ECHO_OFF &&
		    m->style[i] != PAM_PROMPT_ECHO_ON)
			continue;
		if ((out[i].resp = strdup(r->answers[i])) == NULL)
			goto done;
	}
	*resp = out;
	out = NULL;
	rc = PAM_SUCCESS;
done:
	explicit_bzero(buf, sizeof(buf));
	if (r != NULL) {
		explicit_bzero(r, sizeof(*r));
		free(r);
	}
	if (out != NULL) {
		for (i = 0; i < n; i++)
			if (out[i].resp != NULL) {
				explicit_bzero(out[i].resp, strlen(out[i].resp));
				free(out[i].resp);
			}
		free(out);
	}
	free(m);
	wbuf_free(&w);
	return rc;
}

static void
child_result(int ok, const char *message)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, MSG_HELPER_RESULT);
	wbuf_u8(&w, ok ? 1 : 0);
	wbuf_str(&w, message);
	frame_end(&w, off);
	child_send(&w);
	wbuf_free(&w);
}

static void __attribute__((noreturn))
child_main(int fd, const char *service, const char *confdir,
    const char *user, const char *ruser)
{
	struct pam_conv	 conv = { child_conv, NULL };
	pam_handle_t	*pamh = NULL;
	sigset_t	 set;
	int		 rc, devnull;
	union {
		void	(*fn)(int, unsigned, void *);
		const void *p;
	} delay = { child_fail_delay };

	/* Undo what the daemon set up; keep only the channel and stdio. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	/*
	 * Loading and running the PAM stack costs milliseconds of CPU; on
	 * the event loop's CPU that would be felt by every VERIFY.  Nobody
	 * notices a login taking a little longer.
	 */
	setpriority(PRIO_PROCESS, 0, PAMHELPER_NICE);
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, STDIN_FILENO);
		if (devnull != STDIN_FILENO)
			close(devnull);
	}
	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			_exit(2);
		fd = 3;
	}
	closefrom(4);
	child_fd = fd;

	if (confdir[0] != '\0')
		rc = pam_start_confdir(service, user, &conv, confdir, &pamh);
	else
		rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		child_result(0, "pam_start failed");
		_exit(1);
	}
	pam_set_item(pamh, PAM_FAIL_DELAY, delay.p);
	pam_set_item(pamh, PAM_RUSER, ruser);
	/*
	 * pam_tokend.so steps aside in tokend's own transactions: a short-lived
	 * access token must never buy a new long-lived refresh token.
	 */
	pam_putenv(pamh, "TOKEND_ISSUE=1");
	rc = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		child_result(1, "ok");
	else if (rc == PAM_NEW_AUTHTOK_REQD)
		child_result(0, "password expired: change it first");
	else
		child_result(0, pam_strerror(pamh, rc));
	pam_end(pamh, rc);
	_exit(0);
}

/*
 * tokend --pam-helper SERVICE CONFDIR USER RUSER, started by the daemon
 * with its end of the socketpair as fd 3.  Nothing else is meant to run
 * it: without that socket it stops at once.
 */
int
pamhelper_exec_main(int argc, char **argv)
{
	int		type;
	socklen_t	len = sizeof(type);

	/* Before anything else: no core, no ptrace by its own user. */
	prctl(PR_SET_DUMPABLE, 0);
	/* Started through /proc/self/fd/N, it would be called "N" in ps. */
	prctl(PR_SET_NAME, "tokend-pam");
	if (argc != 6 || getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET) {
		fprintf(stderr, "tokend: --pam-helper is for tokend's own use\n");
		_exit(2);
	}
	child_main(3, argv[2], argv[3], argv[4], argv[5]);
}

/* ---- daemon side ---- */

int
pamhelper_init(char **cause)
{
	if ((self_exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) == -1) {
		cause_set(cause, "cannot open /proc/self/exe (needed to start "
		    "PAM helpers): %s", strerror(errno));
		return -1;
	}
	snprintf(self_path, sizeof(self_path), "/proc/self/fd/%d", self_exe);
	return 0;
}

/* Start our own binary as a PAM helper with fd as its fd 3. */
static pid_t
spawn_helper(int fd, char *user, char *ruser)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, all;
	pid_t				 pid = -1;
	int				 tmp = -1;
	char				 name[] = "tokend-pam-helper";
	char				 flag[] = "--pam-helper";
	char				*argv[] = {
		name, flag, td->conf.pam_service, td->conf.pam_confdir, user,
		ruser, NULL
	};
	int				 rc;

	/* dup2(3, 3) would leave close-on-exec set: move it first. */
	if (fd == 3 && (fd = tmp = fcntl(fd, F_DUPFD_CLOEXEC, 4)) == -1)
		return -1;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		if (tmp != -1)
			close(tmp);
		return -1;
	}
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		if (tmp != -1)
			close(tmp);
		return -1;
	}
	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_adddup2(&fa, fd, 3)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) == 0)
		rc = posix_spawn(&pid, self_path, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (tmp != -1)
		close(tmp);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	/* At once, not only from child_main: loading the binary costs too. */
	setpriority(PRIO_PROCESS, pid, PAMHELPER_NICE);
	return pid;
}

static void
pamhelper_free(struct pamhelper *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);	/* reaped by the SIGCHLD handler */
		td->npam--;
	}
	if (h->ev_read != NULL)
		event_free(h->ev_read);
	if (h->ev_timer != NULL)
		event_free(h->ev_timer);
	if (h->fd != -1)
		close(h->fd);
	free(h);
}

static void pamhelper_next(void);

/* The ISSUE request holds the user's chosen name and scopes: wipe it. */
static void
issue_free(struct conn *c)
{
	if (c->issue == NULL)
		return;
	explicit_bzero(c->issue, sizeof(*c->issue));
	free(c->issue);
	c->issue = NULL;
}

/* The ISSUE on c is over (its reply is queued): let c's later frames in. */
static void
pamhelper_finish(struct conn *c)
{
	struct pamhelper	*h = c->pam;

	c->pam = NULL;
	if (h != NULL)
		pamhelper_free(h);
	issue_free(c);
	pamhelper_next();
	conn_resume(c);
}

static void
pamhelper_arm(struct pamhelper *h, unsigned msec)
{
	struct timeval	tv = { msec / 1000, (msec % 1000) * 1000 };

	event_add(h->ev_timer, &tv);
}

static void
pamhelper_start(struct conn *c)
{
	struct pamhelper	*h;
	char			 ruser[TOKEND_USER_MAX + 1];
	int			 sv[2];

	if (dispatch_user_name(c->uid, ruser, sizeof(ruser)) == NULL)
		snprintf(ruser, sizeof(ruser), "%u", (unsigned)c->uid);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto fail;
	h->fd = -1;
	h->c = c;
	snprintf(h->user, sizeof(h->user), "%s", c->issue->user);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		free(h);
		goto fail;
	}
	if ((h->pid = spawn_helper(sv[1], h->user, ruser)) == -1) {
		log_warn("cannot start a PAM helper (%s)", self_path);
		close(sv[0]);
		close(sv[1]);
		free(h);
		goto fail;
	}
	close(sv[1]);
	h->fd = sv[0];
	td->npam++;
	c->pam = h;
	fcntl(h->fd, F_SETFL, fcntl(h->fd, F_GETFL) | O_NONBLOCK);
	h->ev_read = event_new(td->base, h->fd, EV_READ | EV_PERSIST,
	    pamhelper_read_cb, h);
	h->ev_timer = evtimer_new(td->base, pamhelper_timer_cb, h);
	if (h->ev_read == NULL || h->ev_timer == NULL) {
		conn_error(c, PERR_INTERNAL, "cannot start authentication");
		pamhelper_finish(c);
		return;
	}
	event_add(h->ev_read, NULL);
	pamhelper_arm(h, td->conf.pam_timeout * 1000);
	log_debug("PAM helper %d started for %s, caller uid %u pid %d",
	    (int)h->pid, h->user, (unsigned)c->uid, (int)c->pid);
	return;
fail:
	conn_error(c, PERR_INTERNAL, "cannot start authentication");
	pamhelper_finish(c);
}

static int
pamhelper_slot_free(void)
{
	if (td->conf.pam_serialize)
		return td->npam == 0;
	return td->npam < td->conf.max_pam_helpers;
}

static void
pamhelper_next(void)
{
	struct conn	*c;

	while (!td->stopping && pamhelper_slot_free() &&
	    (c = TAILQ_FIRST(&td->pam_queue)) != NULL) {
		TAILQ_REMOVE(&td->pam_queue, c, qentry);
		c->queued = 0;
		pamhelper_start(c);
		conn_flush(c);
	}
}

void
pamhelper_request(struct conn *c)
{
	if (pamhelper_slot_free() && TAILQ_EMPTY(&td->pam_queue)) {
		pamhelper_start(c);
		return;
	}
	log_debug("ISSUE for %s waits for a PAM helper (%u running)",
	    c->issue->user, td->npam);
	TAILQ_INSERT_TAIL(&td->pam_queue, c, qentry);
	c->queued = 1;
}

void
pamhelper_reply(struct conn *c, const uint8_t *body, size_t len)
{
	struct pamhelper	*h = c->pam;
	struct msg_conv_reply	*r;
	struct wbuf		 w;
	size_t			 off;
	int			 ok;

	if (h->nprompts == 0) {
		conn_error(c, PERR_MALFORMED, "CONV_REPLY without a prompt");
		c->closing = 1;
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		conn_error(c, PERR_INTERNAL, "out of memory");
		pamhelper_finish(c);
		return;
	}
	ok = dec_conv_reply(body, len, r) == 0 && r->n == h->nprompts;
	explicit_bzero(r, sizeof(*r));
	free(r);
	if (!ok) {
		conn_error(c, PERR_MALFORMED, "CONV_REPLY does not match the "
		    "prompt");
		c->closing = 1;
		return;
	}
	wbuf_init(&w);
	off = frame_begin(&w, MSG_CONV_REPLY);
	wbuf_put(&w, body, len);
	frame_end(&w, off);
	if (w.failed || send(h->fd, w.data, w.len, MSG_NOSIGNAL) == -1) {
		wbuf_free(&w);
		conn_error(c, PERR_INTERNAL, "authentication helper failed");
		pamhelper_finish(c);
		return;
	}
	wbuf_free(&w);
	h->nprompts = 0;
	pamhelper_arm(h, td->conf.pam_timeout * 1000);
}

/* A failure is reported only after the delay, so guessing stays slow. */
static void
pamhelper_failed(struct pamhelper *h, const char *why)
{
	uid_t	uid;

	if (dispatch_user_uid(h->user, &uid) == 0)
		ratelimit_fail(RL_AUTH, uid);
	log_notice("authentication failed for %s (caller uid %u pid %d): %s",
	    h->user, (unsigned)h->c->uid, (int)h->c->pid, why);
	td->stats.pam_failures++;
	event_del(h->ev_read);
	kill(h->pid, SIGKILL);
	h->pid = 0;
	td->npam--;
	h->failed = 1;
	pamhelper_arm(h, td->conf.fail_delay_ms);
	pamhelper_next();
}

static void
pamhelper_read_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint8_t		 buf[HELPER_BUF];
	struct pamhelper	*h = arg;
	struct conn		*c = h->c;
	struct frame_hdr	 hdr;
	struct msg_conv		*m;
	struct rbuf		 r;
	char			 why[TOKEND_ERRMSG_MAX + 1];
	ssize_t			 len;
	int			 ok;

	(void)events;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
	    (size_t)len != TOKEND_HDR_LEN + hdr.length) {
		log_warnx("PAM helper %d for %s ended without an answer",
		    (int)h->pid, h->user);
		/* A PAM module crashed or exited: nobody was authenticated. */
		td->stats.pam_failures++;
		conn_error(c, PERR_AUTH, "authentication failed: the PAM stack "
		    "ended without an answer");
		pamhelper_finish(c);
		return;
	}
	if (hdr.type == MSG_CONV && h->nprompts == 0) {
		if ((m = calloc(1, sizeof(*m))) == NULL ||
		    dec_conv(buf + TOKEND_HDR_LEN, hdr.length, m) == -1) {
			free(m);
			conn_error(c, PERR_INTERNAL, "bad message from the "
			    "authentication helper");
			pamhelper_finish(c);
			return;
		}
		h->nprompts = m->n;
		free(m);
		wbuf_put(&c->out, buf, (size_t)len);
		explicit_bzero(buf, (size_t)len);
		pamhelper_arm(h, td->conf.pam_timeout * 1000);
		conn_flush(c);
		return;
	}
	if (hdr.type != MSG_HELPER_RESULT) {
		conn_error(c, PERR_INTERNAL, "bad message from the "
		    "authentication helper");
		pamhelper_finish(c);
		return;
	}
	rbuf_init(&r, buf + TOKEND_HDR_LEN, hdr.length);
	ok = rbuf_u8(&r);
	rbuf_str(&r, why, sizeof(why));
	if (rbuf_done(&r) == -1)
		ok = 0;
	if (!ok) {
		pamhelper_failed(h, why);
		return;
	}
	log_info("authenticated %s through PAM (caller uid %u pid %d)",
	    h->user, (unsigned)c->uid, (int)c->pid);
	dispatch_issue_authenticated(c);
	pamhelper_finish(c);
}

static void
pamhelper_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pamhelper	*h = arg;
	struct conn		*c = h->c;

	(void)fd;
	(void)events;
	if (h->failed) {
		conn_error(c, PERR_AUTH, "authentication failed");
		pamhelper_finish(c);
		return;
	}
	log_warnx("PAM conversation for %s timed out after %u s (caller uid %u "
	    "pid %d); helper %d killed", h->user, td->conf.pam_timeout,
	    (unsigned)c->uid, (int)c->pid, (int)h->pid);
	td->stats.pam_timeouts++;
	conn_error(c, PERR_TIMEOUT, "authentication timed out after %u seconds",
	    td->conf.pam_timeout);
	pamhelper_finish(c);
}

void
pamhelper_cancel(struct conn *c)
{
	if (c->queued) {
		TAILQ_REMOVE(&td->pam_queue, c, qentry);
		c->queued = 0;
	}
	if (c->pam != NULL) {
		log_debug("PAM helper %d for %s cancelled", (int)c->pam->pid,
		    c->pam->user);
		pamhelper_free(c->pam);
		c->pam = NULL;
		pamhelper_next();
	}
	issue_free(c);
}

void
pamhelper_reap(void)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			log_warnx("PAM helper %d died of signal %d", (int)pid,
			    WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warnx("PAM helper %d exited with status %d",
			    (int)pid, WEXITSTATUS(status));
	}
}
