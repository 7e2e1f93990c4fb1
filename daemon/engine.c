/* SPDX-License-Identifier: ISC */
/*
 * The engine: tokend's unprivileged process (monitor.h).  Started by the
 * monitor as `tokend --engine` with the channel as fd 3, it takes the
 * configuration and the listening socket (MON_INIT), confines itself to
 * db_dir as the engine's user (sandbox.c), opens the store, gets the key
 * (MON_KEY), locks itself down, and serves: the event loop, every client
 * byte, the store, the caches and the writer thread are here.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "account.h"
#include "clock.h"
#include "conn.h"
#include "daemon.h"
#include "helper.h"
#include "listener.h"
#include "log.h"
#include "fleet.h"
#include "monitor.h"
#include "otpask.h"
#include "pamhelper.h"
#include "ratelimit.h"
#include "sandbox.h"
#include "store.h"
#include "token.h"
#include "vcache.h"
#include "writer.h"

#define CHAN_FD		3
#define STOP_GRACE_SEC	5
#define PURGE_AGAIN_SEC	1	/* a purge that hit its batch limit goes on after this */

static struct daemon	 daemon_state;
struct daemon		*td = &daemon_state;

static struct event	*ev_purge, *ev_purge_again, *ev_flush, *ev_stop;
static struct event	*ev_writer, *ev_chan;
static uint8_t		 msgbuf[MON_MSG_MAX];
static pid_t		 monitor_pid;
static int		 foreground;
static struct channel_out chan_out;
static int		 chan_queued;	/* chan_out is set up */

static void
engine_monitor_gone(void)
{
	log_set_relay(NULL);		/* the relay is what failed */
	fatalx("the monitor is gone, or has not read from the engine for too "
	    "long");
}

/* Before the event loop runs, a send waits; after, it never does. */
int
engine_send(const struct wbuf *w)
{
	if (!chan_queued)
		return channel_send(CHAN_FD, w, -1);
	return channel_out_send(&chan_out, w);
}

/* Log lines go to the monitor, which can reach syslog. */
static void
engine_log_relay(int pri, const char *msg)
{
	static struct mon_msg	m = { .type = MON_LOG };
	struct wbuf		w;

	m.flag = (uint8_t)pri;
	snprintf(m.text, sizeof(m.text), "%s", msg);
	wbuf_init(&w);
	mon_encode(&w, &m);
	(void)engine_send(&w);
	wbuf_free(&w);
}

/* One message, waiting for it (start-up only): its type must be want. */
static const uint8_t *
engine_recv(int want, size_t *len, int *fd)
{
	struct pollfd		 pfd = { .fd = CHAN_FD, .events = POLLIN };
	struct frame_hdr	 hdr;
	const uint8_t		*body;
	const char		*why = NULL;
	int			 rc;

	for (;;) {
		rc = channel_recv(CHAN_FD, msgbuf, &channel_to_engine, &hdr,
		    &body, fd, &why);
		if (rc == 1)
			break;
		if (rc == -1)
			fatalx("the monitor is gone");
		if (rc == -2)
			fatalx("the monitor sent a bad message: %s", why);
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			fatal("poll");
	}
	if (hdr.type != want)
		fatalx("the monitor sent %s, not %s", channel_type_name(hdr.type),
		    channel_type_name(want));
	*len = hdr.length;
	return body;
}

/* The groups admins and verifiers belong to, as the monitor resolved them. */
static void
engine_groups(struct rbuf *r)
{
	td->have_admin_gid = rbuf_u8(r);
	td->admin_gid = (gid_t)rbuf_u32(r);
	td->have_verifier_gid = rbuf_u8(r);
	td->verifier_gid = (gid_t)rbuf_u32(r);
}

static int
engine_config(struct rbuf *r, struct config *conf)
{
	if (rbuf_u32(r) != sizeof(*conf) || r->left < sizeof(*conf))
		return -1;
	memcpy(conf, r->p, sizeof(*conf));
	r->p += sizeof(*conf);
	r->left -= sizeof(*conf);
	/* Strings from the monitor still end inside their arrays. */
	if (memchr(conf->db_dir, '\0', sizeof(conf->db_dir)) == NULL ||
	    memchr(conf->socket_path, '\0', sizeof(conf->socket_path)) == NULL ||
	    memchr(conf->user, '\0', sizeof(conf->user)) == NULL)
		return -1;
	return 0;
}

/* MON_INIT: what the monitor decided, and the listening socket. */
static int
engine_init(uid_t *uid, gid_t *gid)
{
	struct rbuf	 r;
	const uint8_t	*body;
	size_t		 len;
	int		 fd, debug;

	body = engine_recv(MON_INIT, &len, &fd);
	rbuf_init(&r, body, len);
	if (engine_config(&r, &td->conf) == -1)
		fatalx("the monitor sent a configuration of another size");
	foreground = rbuf_u8(&r);
	debug = rbuf_u8(&r);
	*uid = (uid_t)rbuf_u32(&r);
	*gid = (gid_t)rbuf_u32(&r);
	engine_groups(&r);
	td->started = (int64_t)rbuf_u64(&r);
	monitor_pid = (pid_t)rbuf_u32(&r);
	if (rbuf_done(&r) == -1 || fd == -1)
		fatalx("the monitor sent a malformed INIT");
	/* Never syslog itself: that would keep a /dev/log socket open. */
	log_init(1, debug);
	if (!foreground)
		log_set_relay(engine_log_relay);
	return fd;
}

/* The store, then the key for it (made by the monitor if the store is empty). */
static void
engine_open_state(void)
{
	struct store_stats	 ss;
	struct mon_msg		 m;
	struct wbuf		 w;
	const uint8_t		*key;
	char			*cause = NULL;
	size_t			 len;
	int			 fd;

	if (access(".", R_OK | W_OK | X_OK) == -1)
		fatalx("database directory %s is not writable by uid %u",
		    td->conf.db_dir, (unsigned)geteuid());
	if (store_open(&td->store, ".", td->conf.map_size, &cause) == -1)
		fatalx("cannot open the token database in %s: %s",
		    td->conf.db_dir, cause ? cause : "?");
	store_get_stats(td->store, &ss);
	memset(&m, 0, sizeof(m));
	m.type = MON_KEY_WANTED;
	m.flag = ss.tokens == 0;
	wbuf_init(&w);
	mon_encode(&w, &m);
	if (engine_send(&w) == -1)
		fatalx("the monitor is gone");
	wbuf_free(&w);
	key = engine_recv(MON_KEY, &len, &fd);
	if (fd != -1)
		fatalx("the monitor sent a descriptor with the key");
	if (token_keys_from_master(key, &td->keys, &cause) == -1)
		fatalx("%s", cause ? cause : "cannot use the key");
	explicit_bzero(msgbuf, sizeof(msgbuf));
	if (lastused_init() == -1 || vcache_init(td->conf.answer_cache_size) == -1)
		fatalx("out of memory");
	log_info("database %s: %llu token%s", td->conf.db_dir,
	    (unsigned long long)ss.tokens, ss.tokens == 1 ? "" : "s");
}

/* ---- timers ---- */

static struct store_op	purge_op;
static int		purge_busy;

static void
purge_done(struct store_op *op)
{
	purge_busy = 0;
	if (op->result != STORE_OK) {
		log_warnx("purge of expired tokens failed: %s",
		    op->cause ? op->cause : "store error");
		free(op->cause);
		op->cause = NULL;
		return;
	}
	td->stats.purged += op->count;
	if (op->count > 0)
		log_info("purged %u expired token%s", op->count,
		    op->count == 1 ? "" : "s");
	/* A full batch: there may be more; go on soon, not in an hour. */
	if (op->count >= STORE_PURGE_BATCH && !td->stopping) {
		struct timeval	tv = { PURGE_AGAIN_SEC, 0 };

		event_add(ev_purge_again, &tv);
	}
}

static void
purge_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (purge_busy)
		return;		/* the last one is still being written */
	memset(&purge_op, 0, sizeof(purge_op));
	purge_op.type = STORE_OP_PURGE;
	purge_op.now = clock_now();
	purge_op.done = purge_done;
	purge_busy = 1;
	writer_submit(&purge_op);
	fleetlink_purge(purge_op.now);	/* fleet mode: the database's too */
}

static void
writer_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	writer_done();
}

static void
flush_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	lastused_flush();
}

static void
arm_timers(void)
{
	struct timeval	purge = { td->conf.purge_interval, 0 };
	struct timeval	flush = { td->conf.last_used_flush, 0 };

	event_add(ev_purge, &purge);
	event_add(ev_flush, &flush);
}

/* MON_CONFIG: the monitor read tokend.conf again (SIGHUP). */
static void
engine_reload(const uint8_t *body, size_t len)
{
	struct config	conf;
	struct rbuf	r;

	rbuf_init(&r, body, len);
	if (engine_config(&r, &conf) == -1)
		fatalx("the monitor sent a malformed CONFIG");
	engine_groups(&r);
	if (rbuf_done(&r) == -1)
		fatalx("the monitor sent a malformed CONFIG");
	/* Paths were fixed at start-up; the monitor keeps them so. */
	conf.map_size = td->conf.map_size;
	td->conf = conf;
	vcache_forget_all();	/* answers may depend on what changed */
	account_configure();
	arm_timers();
}

/* ---- the channel ---- */

static void	engine_stop(void);

static void
engine_chan_cb(evutil_socket_t fd, short events, void *arg)
{
	struct frame_hdr	 hdr;
	const uint8_t		*body;
	const char		*why = NULL;
	int			 rc, passed;

	(void)events;
	(void)arg;
	for (;;) {
		rc = channel_recv(fd, msgbuf, &channel_to_engine, &hdr, &body,
		    &passed, &why);
		if (rc == 0)
			return;
		if (rc == -1)
			fatalx("the monitor is gone");
		if (rc == -2)
			fatalx("the monitor sent a bad message: %s", why);
		if (passed != -1 && hdr.type != MON_FLEET)
			fatalx("the monitor sent a descriptor with %s",
			    channel_type_name(hdr.type));
		switch (hdr.type) {
		case MON_CONFIG:
			engine_reload(body, hdr.length);
			break;
		case MON_PAM_CONV:
		case MON_PAM_RESULT:
			pamhelper_message(hdr.type, body, hdr.length);
			break;
		case MON_ACCT_ANSWER:
		case MON_ACCT_LOST:
			account_message(hdr.type, body, hdr.length);
			break;
		case MON_OTP_ANSWER:
			otpask_message(body, hdr.length);
			break;
		case MON_FLEET:
			if (passed == -1 || !fleetlink_on() ||
			    fleetlink_start(td->base, passed, td->conf.postgresql)
			    == -1)
				fatalx("the monitor sent a bad FLEET");
			continue;
		case MON_STOP:
			engine_stop();
			break;
		default:
			fatalx("the monitor sent %s, not expected now",
			    channel_type_name(hdr.type));
		}
		explicit_bzero(msgbuf, TOKEND_HDR_LEN + hdr.length);
	}
}

/* ---- signals ---- */

static void
stop_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_warnx("clients did not drain within %d s, stopping anyway",
	    STOP_GRACE_SEC);
	event_base_loopbreak(td->base);
}

/* SIGTERM or the monitor's MON_STOP: refuse new work, drain, then leave. */
static void
engine_stop(void)
{
	struct timeval	grace = { STOP_GRACE_SEC, 0 };

	if (td->stopping)
		return;
	td->stopping = 1;
	listener_close();
	ev_stop = evtimer_new(td->base, stop_cb, NULL);
	if (ev_stop != NULL)
		event_add(ev_stop, &grace);
	conn_stop_all();
}

/* Through a signalfd, as in the monitor: no handler frame on the stack. */
static void
signal_cb(evutil_socket_t fd, short events, void *arg)
{
	struct signalfd_siginfo	si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		engine_stop();
}

int
engine_main(int argc, char **argv)
{
	struct event	*ev_sig;
	struct mon_msg	 m;
	sigset_t	 set;
	struct wbuf	 w;
	char		*cause = NULL;
	uid_t		 uid;
	gid_t		 gid;
	int		 lfd, i;

	(void)argv;
	helper_child_begin("tokend-engine", SOCK_SEQPACKET);
	if (argc != 2) {
		fprintf(stderr, "tokend: this mode is for tokend's own use\n");
		_exit(2);
	}
	signal(SIGHUP, SIG_IGN);	/* the monitor reloads, and tells us */
	/* Blocked before any thread starts, so that none takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	/* No time zone file to read later, from the chroot: all times are UTC. */
	setenv("TZ", "UTC0", 1);
	tzset();
	lfd = engine_init(&uid, &gid);
	clock_init();			/* before the chroot: it opens a file */
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (sandbox_drop(td->conf.db_dir, uid, gid, &cause) == -1)
		fatalx("%s", cause);
	/* setresuid cleared it: the monitor's end is ours too. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != monitor_pid)
		fatalx("the monitor is gone");
	engine_open_state();

	td->listen_fd = -1;
	if ((td->base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if (fcntl(CHAN_FD, F_SETFL, fcntl(CHAN_FD, F_GETFL) | O_NONBLOCK) == -1 ||
	    channel_out_init(&chan_out, td->base, CHAN_FD,
	    engine_monitor_gone) == -1)
		fatalx("cannot set up the channel to the monitor");
	chan_queued = 1;
	dispatch_init();
	if (listener_open(lfd, &cause) == -1)
		fatalx("%s", cause);
	if ((i = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	if ((ev_sig = event_new(td->base, i, EV_READ | EV_PERSIST, signal_cb,
	    NULL)) == NULL || event_add(ev_sig, NULL) == -1)
		fatalx("cannot watch signals");
	if (account_init(&cause) == -1)
		fatalx("%s", cause);
	/* No path from here on; threads started later inherit it. */
	if (sandbox_paths(&cause) == -1)
		fatalx("%s", cause);
	if (writer_start(td->store, &cause) == -1)
		fatalx("%s", cause ? cause : "cannot start the writer thread");
	ev_writer = event_new(td->base, writer_fd(), EV_READ | EV_PERSIST,
	    writer_cb, NULL);
	ev_chan = event_new(td->base, CHAN_FD, EV_READ | EV_PERSIST,
	    engine_chan_cb, NULL);
	ev_purge = event_new(td->base, -1, EV_PERSIST, purge_cb, NULL);
	ev_purge_again = evtimer_new(td->base, purge_cb, NULL);
	ev_flush = event_new(td->base, -1, EV_PERSIST, flush_cb, NULL);
	if (ev_writer == NULL || event_add(ev_writer, NULL) == -1 ||
	    ev_chan == NULL || event_add(ev_chan, NULL) == -1 ||
	    ev_purge == NULL || ev_purge_again == NULL || ev_flush == NULL)
		fatalx("cannot create the engine's events");
	arm_timers();

	/* Everything is open and every thread runs: lock the rest away. */
	if (sandbox_syscalls(CHAN_FD, &cause) == -1)
		fatalx("%s", cause);
	memset(&m, 0, sizeof(m));
	m.type = MON_READY;
	wbuf_init(&w);
	mon_encode(&w, &m);
	if (engine_send(&w) == -1)
		fatalx("the monitor is gone");
	wbuf_free(&w);
	purge_cb(-1, 0, NULL);

	event_base_dispatch(td->base);

	lastused_flush();
	writer_stop();		/* every write durable and answered */
	lastused_flush();	/* what waited behind a flush in flight (written here) */
	event_free(ev_writer);
	event_free(ev_chan);
	close(event_get_fd(ev_sig));
	event_free(ev_sig);
	event_free(ev_purge);
	event_free(ev_purge_again);
	event_free(ev_flush);
	if (ev_stop != NULL)
		event_free(ev_stop);
	listener_close();
	account_free();
	lastused_free();
	vcache_free();
	ratelimit_free();
	store_close(td->store);
	token_keys_free(td->keys);
	event_base_free(td->base);
	exit(0);
}
