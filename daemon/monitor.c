/* SPDX-License-Identifier: ISC */
/*
 * The monitor: tokend's privileged process (monitor.h).  It reads the
 * configuration, binds the socket, makes db_dir the engine's, starts the
 * engine and then only answers it: the key once, the PAM helpers and the
 * account helper on request, the configuration again after SIGHUP.  It
 * reads nothing from clients.  Every message from the engine is checked
 * (type, length, exact decoding, whether it is expected now) before it is
 * acted on, and a message that fails ends the daemon, as OpenSSH's
 * monitor does.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/capability.h>
#include <sodium.h>

#include "account.h"
#include "helper.h"
#include "listener.h"
#include "log.h"
#include "monitor.h"
#include "fleet.h"
#include "otp.h"
#include "pamhelper.h"
#include "token.h"
#include "util.h"

#define FD_RESERVE	32	/* descriptors kept for the store, helpers, logs */

static const char *const flag_keys[MON_NFLAGS] = {
	"socket_path", "db_dir", "key_file", "pam_service", "pam_confdir",
	"user"
};

/* A PAM transaction the engine asked for. */
struct mon_pam {
	TAILQ_ENTRY(mon_pam)	 entry;
	uint32_t		 id;
	pid_t			 pid;
	int			 fd;
	struct event		*ev;
};
TAILQ_HEAD(mon_pams, mon_pam);

enum mon_phase {
	PHASE_INIT,		/* INIT sent, the key not yet asked for */
	PHASE_KEY,		/* KEY sent, the engine not yet ready */
	PHASE_READY,		/* serving */
};

static struct {
	struct monitor_opts	 opts;
	struct config		 conf;
	uid_t			 uid;		/* the engine's */
	gid_t			 gid;
	int			 have_admin, have_verifier;
	gid_t			 admin_gid, verifier_gid;
	struct event_base	*base;
	int			 chan;
	struct event		*ev_chan;
	struct channel_out	 out;		/* to the engine */
	struct event		*ev_grace;	/* the engine is going: how long */
	int			 reload_pending;	/* SIGHUP before READY */
	pid_t			 engine;
	enum mon_phase		 phase;
	int			 listen_fd;
	int			 socket_bound;
	pid_t			 self;		/* for the atexit handler */
	int			 ready_fd;	/* pipe to the waiting parent */
	int			 stopping;
	struct mon_pams		 pams;
	unsigned		 npams;
	pid_t			 acct_pid;
	pid_t			 fleet;		/* fleet mode: the fleet process */
	int			 acct_fd;
	struct event		*ev_acct;
	int64_t			 started;
} m;

static uint8_t	msgbuf[MON_MSG_MAX];

#define CHAN_BUDGET	64	/* messages read from the engine per pass */
#define STOP_GRACE_SEC	10	/* the engine drains in 5 s (engine.c) */
#define GONE_GRACE_SEC	2	/* channel closed: time for the engine to exit */

static void	monitor_chan_cb(evutil_socket_t, short, void *);
static void	monitor_pam_cb(evutil_socket_t, short, void *);
static void	monitor_acct_cb(evutil_socket_t, short, void *);

/* ---- start-up ---- */

static int
monitor_config(struct config *conf, char **cause)
{
	size_t	i;

	config_defaults(conf);
	if (config_load(conf, m.opts.conf_path, m.opts.conf_given, cause) == -1)
		return -1;
	for (i = 0; i < MON_NFLAGS; i++)
		if (m.opts.flags[i] != NULL &&
		    config_set(conf, flag_keys[i], m.opts.flags[i], cause) == -1)
			return -1;
	return 0;
}

static void
monitor_groups(void)
{
	m.have_admin = m.conf.admin_group[0] != '\0' &&
	    config_group_gid(m.conf.admin_group, &m.admin_gid) == 0;
	if (m.conf.admin_group[0] != '\0' && !m.have_admin)
		log_warnx("admin group %s does not exist: only root is admin",
		    m.conf.admin_group);
	m.have_verifier = m.conf.verifier_group[0] != '\0' &&
	    config_group_gid(m.conf.verifier_group, &m.verifier_gid) == 0;
	if (m.conf.verifier_group[0] != '\0' && !m.have_verifier)
		log_warnx("verifier group %s does not exist: only root may "
		    "verify", m.conf.verifier_group);
}

/*
 * Who the engine runs as: `user` when started as root (it must exist and
 * must not be root: no silent fallback), else whoever started tokend.
 */
static void
monitor_user(void)
{
	struct passwd	*pw;

	if (getuid() != 0) {
		m.uid = getuid();
		m.gid = getgid();
		return;
	}
	errno = 0;
	if ((pw = getpwnam(m.conf.user)) == NULL)
		fatalx("user \"%s\" does not exist: create it, or set user= in "
		    "tokend.conf", m.conf.user);
	if (pw->pw_uid == 0)
		fatalx("user \"%s\" is root: the engine must run as an "
		    "unprivileged user (user= in tokend.conf)", m.conf.user);
	m.uid = pw->pw_uid;
	m.gid = pw->pw_gid;
}

/*
 * tokend -n: what a start would refuse, found without starting (sshd -t,
 * smtpd -n): the configuration, the engine's user, the key file.  The
 * groups only warn, as at a start.  Nothing is created or changed.
 */
static void __attribute__((noreturn))
monitor_check(void)
{
	uint8_t		*master;
	struct stat	 st;
	char		*cause = NULL;

	monitor_user();
	monitor_groups();
	if (stat(m.conf.key_file, &st) == -1 && errno == ENOENT)
		log_info("key file %s does not exist yet: tokend makes it when "
		    "the database is empty", m.conf.key_file);
	else {
		if ((master = sodium_malloc(MON_KEY_BYTES)) == NULL)
			fatalx("cannot allocate key memory");
		if (token_key_read(m.conf.key_file, 0, master, &cause) == -1)
			fatalx("%s", cause ? cause : "cannot read the key file");
		sodium_free(master);
	}
	printf("%s: configuration OK\n", m.opts.conf_given ||
	    access(m.opts.conf_path, F_OK) == 0 ? m.opts.conf_path :
	    "defaults (no configuration file)");
	exit(0);
}

/*
 * tokend --key-id: a fingerprint of the hash key, so that an admin can
 * tell whether two hosts, or a host and a backup, hold the same key
 * without showing it (a keyed BLAKE2b of it: nothing of the key leaks).
 */
static void __attribute__((noreturn))
monitor_key_id(void)
{
	static const char	 domain[] = "tokend key id v1";
	uint8_t			*master, id[16];
	char			 hex[2 * sizeof(id) + 1];
	char			*cause = NULL;
	struct stat		 st;
	size_t			 i;

	if (stat(m.conf.key_file, &st) == -1)
		fatalx("key file %s: %s", m.conf.key_file, strerror(errno));
	if ((master = sodium_malloc(MON_KEY_BYTES)) == NULL)
		fatalx("cannot allocate key memory");
	if (token_key_read(m.conf.key_file, 0, master, &cause) == -1)
		fatalx("%s", cause ? cause : "cannot read the key file");
	crypto_generichash(id, sizeof(id), (const uint8_t *)domain,
	    sizeof(domain) - 1, master, MON_KEY_BYTES);
	sodium_free(master);
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	/* In groups of 4, as people compare them by eye. */
	printf("%s: ", m.conf.key_file);
	for (i = 0; i < 2 * sizeof(id); i += 4)
		printf("%s%.4s", i > 0 ? "-" : "", hex + i);
	printf("\n");
	exit(fflush(stdout) == 0 ? 0 : 1);
}

/*
 * Every connection holds a descriptor: raise the soft limit to the hard
 * one (the daemon uses epoll, never select), then keep max_connections
 * below what is left, so accept(2) does not run out first.
 */
static void
monitor_fd_limit(void)
{
	struct rlimit	rl;
	rlim_t		room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return;
	room = rl.rlim_cur > FD_RESERVE + m.conf.max_pam_helpers ?
	    rl.rlim_cur - FD_RESERVE - m.conf.max_pam_helpers : 1;
	if (m.conf.max_connections > room) {
		log_warnx("max_connections %u lowered to %u: the open-file limit "
		    "is %llu", m.conf.max_connections, (unsigned)room,
		    (unsigned long long)rl.rlim_cur);
		m.conf.max_connections = (unsigned)room;
		if (m.conf.max_connections_per_uid > m.conf.max_connections)
			m.conf.max_connections_per_uid = m.conf.max_connections;
	}
}

/* Keys that are read but no longer do anything. */
static void
monitor_warn_retired(void)
{
	if (m.conf.verify_fail_burst != TOKEND_DEF_VERIFY_FAIL_BURST ||
	    m.conf.verify_fail_per_minute != TOKEND_DEF_VERIFY_FAIL_PER_MINUTE)
		log_warnx("verify_fail_burst and verify_fail_per_minute are "
		    "ignored: VERIFY has no failure limit (tokend.conf(5))");
}

/*
 * db_dir belongs to the engine: make it (0700), give it and the store's
 * files to the engine's user (a database of an older tokend that ran as
 * root, too).  The key file may sit in db_dir: it stays root's, 0600.
 */
static void
monitor_db_dir(void)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	struct stat	 st;
	char		 path[PATH_MAX + 16];
	size_t		 i;

	if (mkdir(m.conf.db_dir, 0700) == -1 && errno != EEXIST)
		fatal("cannot create database directory %s", m.conf.db_dir);
	if (stat(m.conf.db_dir, &st) == -1 || !S_ISDIR(st.st_mode))
		fatalx("database directory %s is not a directory",
		    m.conf.db_dir);
	if (getuid() != 0)
		return;
	if ((st.st_uid != m.uid || st.st_gid != m.gid) &&
	    chown(m.conf.db_dir, m.uid, m.gid) == -1)
		fatal("cannot give %s to %s", m.conf.db_dir, m.conf.user);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", m.conf.db_dir, files[i]);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_uid != m.uid || st.st_gid != m.gid) &&
		    chown(path, m.uid, m.gid) == -1)
			fatal("cannot give %s to %s", path, m.conf.user);
	}
}

static void
monitor_harden(void)
{
	struct rlimit	rl = { 0, 0 };

	umask(077);
	/* No core dumps: memory holds the key and PAM answers. */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("PR_SET_DUMPABLE");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("RLIMIT_CORE");
	signal(SIGPIPE, SIG_IGN);
}

/* Tell systemd (Type=notify) what we are doing; no libsystemd needed. */
static void
monitor_notify(const char *state)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd;

	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1)
		log_warn("sd_notify");
	close(fd);
}

/*
 * Go to the background, but keep the parent waiting until the engine
 * listens, so `tokend` without -f still fails loudly with a reason.
 */
static void
monitor_daemonize(void)
{
	sigset_t	all;
	int		fds[2];
	char		c;
	pid_t		pid;

	if (pipe2(fds, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		/* Ctrl-C while it waits stops the waiting parent at least. */
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		close(fds[1]);
		/* The child logs its own failure on stderr before exiting. */
		_exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	m.ready_fd = fds[1];
	if (setsid() == -1)
		fatal("setsid");
}

static void
monitor_daemonized(void)
{
	int	fd;

	if (m.ready_fd == -1)
		return;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(m.ready_fd, "", 1) != 1)
		log_warn("cannot tell the parent we are ready");
	close(m.ready_fd);
	m.ready_fd = -1;
	log_init(0, m.opts.debug);
}

/* ---- talking to the engine ---- */

static void __attribute__((noreturn))
monitor_exit(int status)
{
	struct mon_pam	*p;

	if (m.engine > 0 && status != 0)
		kill(m.engine, SIGKILL);
	TAILQ_FOREACH(p, &m.pams, entry)
		if (p->pid > 0)
			kill(p->pid, SIGKILL);
	if (m.acct_pid > 0)
		kill(m.acct_pid, SIGKILL);
	if (m.socket_bound && unlink(m.conf.socket_path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", m.conf.socket_path);
	m.socket_bound = 0;
	if (status == 0)
		log_info("stopped");
	exit(status);
}

/* fatal() and fatalx() after the bind: no socket file is left behind. */
static void
monitor_atexit(void)
{
	if (m.socket_bound && getpid() == m.self)
		(void)unlink(m.conf.socket_path);
}

/* A start-up failure after the engine started: say why, tidy up, stop. */
static void __attribute__((noreturn, format(printf, 1, 2)))
monitor_fatal(const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(LOG_ERR, msg);
	monitor_exit(1);
}

/* An engine that breaks the channel's rules is not trusted any more. */
static void __attribute__((noreturn))
monitor_violation(int type, const char *why)
{
	log_warnx("the engine sent %s (%s); stopping tokend",
	    type >= 0 ? channel_type_name(type) : "a message", why);
	monitor_exit(1);
}

static void
monitor_engine_gone(void)
{
	log_warnx("cannot reach the engine, or it has not read for too long; "
	    "stopping tokend");
	monitor_exit(1);
}

/* A descriptor goes only with INIT, before anything can wait in the queue. */
static void
monitor_send(const struct wbuf *w, int fd)
{
	if (fd == -1)
		(void)channel_out_send(&m.out, w);	/* gone() when it fails */
	else if (channel_send(m.chan, w, fd) == -1)
		monitor_engine_gone();
}

static void
monitor_put_groups(struct wbuf *w)
{
	wbuf_u8(w, (uint8_t)m.have_admin);
	wbuf_u32(w, m.have_admin ? (uint32_t)m.admin_gid : 0);
	wbuf_u8(w, (uint8_t)m.have_verifier);
	wbuf_u32(w, m.have_verifier ? (uint32_t)m.verifier_gid : 0);
}

static void
monitor_send_init(void)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, MON_INIT);
	wbuf_u32(&w, (uint32_t)sizeof(m.conf));
	wbuf_put(&w, &m.conf, sizeof(m.conf));
	wbuf_u8(&w, (uint8_t)m.opts.foreground);
	wbuf_u8(&w, (uint8_t)m.opts.debug);
	wbuf_u32(&w, (uint32_t)m.uid);
	wbuf_u32(&w, (uint32_t)m.gid);
	monitor_put_groups(&w);
	wbuf_u64(&w, (uint64_t)m.started);
	wbuf_u32(&w, (uint32_t)getpid());
	frame_end(&w, off);
	monitor_send(&w, m.listen_fd);
	wbuf_free(&w);
}

static void
monitor_send_config(void)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, MON_CONFIG);
	wbuf_u32(&w, (uint32_t)sizeof(m.conf));
	wbuf_put(&w, &m.conf, sizeof(m.conf));
	monitor_put_groups(&w);
	frame_end(&w, off);
	monitor_send(&w, -1);
	wbuf_free(&w);
}

/* The engine found its store: the key, made now if the store is empty. */
static void
monitor_key(int empty)
{
	uint8_t		*master;
	struct wbuf	 w;
	char		*cause = NULL;
	size_t		 off;

	if ((master = sodium_malloc(MON_KEY_BYTES)) == NULL)
		fatalx("cannot allocate key memory");
	/* A new key only for an empty database: old hashes need the old key. */
	if (token_key_read(m.conf.key_file, empty, master, &cause) == -1) {
		sodium_free(master);
		monitor_fatal("fatal: %s", cause ? cause : "cannot load the key "
		    "file");
	}
	wbuf_init(&w);
	off = frame_begin(&w, MON_KEY);
	wbuf_put(&w, master, MON_KEY_BYTES);
	frame_end(&w, off);
	sodium_free(master);	/* wipes */
	monitor_send(&w, -1);
	wbuf_free(&w);		/* wipes */
}

/*
 * Once the engine runs, the monitor needs neither chroot nor chown: give
 * them up, for this process and for every PAM helper it starts (a root
 * exec would otherwise get them back from the bounding set).  CAP_SETPCAP,
 * which the bounding set needs to shrink, goes last.  CAP_SETUID and
 * CAP_SETGID stay: PAM modules that read a user's own files first drop to
 * that user (pam_modutil_drop_priv: pam_env's user_readenv, pam_u2f) and
 * fail without them.
 */
static void
monitor_drop_caps(void)
{
	static const int		 caps[] = { CAP_SYS_CHROOT, CAP_CHOWN,
	    CAP_SETPCAP };
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];
	size_t				 i;
	int				 c;

	if (getuid() != 0)
		return;
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (prctl(PR_CAPBSET_READ, caps[i], 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) == -1)
			log_warn("capability %d stays in the bounding set "
			    "(no CAP_SETPCAP?): a program a PAM module runs "
			    "could have it", caps[i]);
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, data) == -1)
		fatal("capget");
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		c = caps[i];
		data[c / 32].effective &= ~(1U << (c % 32));
		data[c / 32].permitted &= ~(1U << (c % 32));
		data[c / 32].inheritable &= ~(1U << (c % 32));
	}
	if (syscall(SYS_capset, &hdr, data) == -1)
		fatal("capset");
}

/* A message, not a signal: the engine is another user's process. */
static void
monitor_send_stop(void)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, MON_STOP);
	frame_end(&w, off);
	monitor_send(&w, -1);
	wbuf_free(&w);
}

/*
 * Fleet mode: the fleet process (fleet.h), as the engine's user, with
 * its end of a socketpair as fd 3; the engine gets the other end.
 */
static void
monitor_spawn_fleet(void)
{
	char	 name[] = "tokend-fleet", flag[] = "--fleet";
	char	 uid[16], gid[16], fg[2], dbg[2];
	char	*argv[] = { name, flag, uid, gid, fg, dbg, NULL };
	struct wbuf	w;
	size_t	 off;
	int	 sv[2];

	snprintf(uid, sizeof(uid), "%u", (unsigned)m.uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)m.gid);
	snprintf(fg, sizeof(fg), "%d", m.opts.foreground ? 1 : 0);
	snprintf(dbg, sizeof(dbg), "%d", m.opts.debug ? 1 : 0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if ((m.fleet = helper_spawn(sv[1], argv, 0, !m.opts.foreground)) == -1)
		fatal("cannot start the fleet process (%s)", helper_path());
	close(sv[1]);
	wbuf_init(&w);
	off = frame_begin(&w, MON_FLEET);
	frame_end(&w, off);
	monitor_send(&w, sv[0]);
	wbuf_free(&w);
	close(sv[0]);
	log_info("fleet mode: fleet process %d started", (int)m.fleet);
}

static void
monitor_ready(void)
{
	/* The engine has the socket: the monitor keeps no client door open. */
	if (m.listen_fd != -1) {
		close(m.listen_fd);
		m.listen_fd = -1;
	}
	monitor_drop_caps();
	if (m.reload_pending)
		monitor_send_config();
	log_info("tokend %s listening on %s (monitor pid %d, engine pid %d, "
	    "engine uid %u)", TOKEND_VERSION, m.conf.socket_path, (int)getpid(),
	    (int)m.engine, (unsigned)m.uid);
	if (strcmp(m.conf.store, "postgresql") == 0)
		monitor_spawn_fleet();
	monitor_notify("READY=1");
	monitor_daemonized();
}

/* ---- PAM ---- */

static struct mon_pam *
monitor_pam_find(uint32_t id)
{
	struct mon_pam	*p;

	TAILQ_FOREACH(p, &m.pams, entry)
		if (p->id == id)
			return p;
	return NULL;
}

static void
monitor_pam_free(struct mon_pam *p)
{
	TAILQ_REMOVE(&m.pams, p, entry);
	m.npams--;
	if (p->pid > 0)
		kill(p->pid, SIGKILL);	/* reaped by SIGCHLD */
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->fd != -1)
		close(p->fd);
	free(p);
}

static void
monitor_pam_result(uint32_t id, int result, uint32_t uid, const char *why)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, MON_PAM_RESULT);
	wbuf_u32(&w, id);
	wbuf_u8(&w, (uint8_t)result);
	wbuf_u32(&w, uid);
	wbuf_str(&w, why);
	frame_end(&w, off);
	monitor_send(&w, -1);
	wbuf_free(&w);
}

/*
 * Start a helper for the engine's ISSUE or OTP enrolment (mode): PAM runs
 * for user, nobody else.
 */
static void
monitor_pam_start(uint32_t id, uint32_t caller, const char *user,
    const char *ruser, int mode)
{
	char		 name[] = "tokend-pam-helper", flag[] = "--pam-helper";
	char		 enroll[] = "enroll", remove[] = "remove";
	char		 service[] = TOKEND_ENROLL_SERVICE;
	char		 u[TOKEND_USER_MAX + 1], r[TOKEND_USER_MAX + 1];
	char		*argv[] = { name, flag, m.conf.pam_service,
			    m.conf.pam_confdir, u, r, NULL, NULL, NULL, NULL };
	struct mon_pam	*p;
	int		 sv[2];
	unsigned	 cap = m.conf.pam_serialize ? 1 : m.conf.max_pam_helpers;

	if (monitor_pam_find(id) != NULL)
		monitor_violation(MON_PAM_START, "a job number in use");
	snprintf(u, sizeof(u), "%s", user);
	snprintf(r, sizeof(r), "%s", ruser);
	if (mode != MON_PAM_MODE_ISSUE) {
		/* The engine checks it too; a reload may have come between. */
		if (!m.conf.otp_enroll) {
			monitor_pam_result(id, MON_PAM_NOSTART, 0,
			    "one-time-code enrolment is off");
			return;
		}
		argv[6] = mode == MON_PAM_MODE_ENROLL ? enroll : remove;
		argv[7] = m.conf.otp_dir;
		argv[8] = service;
	}
	if (m.npams >= cap || (p = calloc(1, sizeof(*p))) == NULL) {
		monitor_pam_result(id, MON_PAM_NOSTART, 0, "no helper free");
		return;
	}
	p->id = id;
	p->fd = -1;
	TAILQ_INSERT_TAIL(&m.pams, p, entry);
	m.npams++;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		goto fail;
	}
	if ((p->pid = helper_spawn(sv[1], argv, PAMHELPER_NICE, 0)) == -1) {
		log_warn("cannot start a PAM helper (%s)", helper_path());
		p->pid = 0;
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	close(sv[1]);
	p->fd = sv[0];
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
	if ((p->ev = event_new(m.base, p->fd, EV_READ | EV_PERSIST,
	    monitor_pam_cb, p)) == NULL || event_add(p->ev, NULL) == -1)
		goto fail;
	log_debug("PAM helper %d started for %s (caller uid %u, job %u)",
	    (int)p->pid, u, (unsigned)caller, (unsigned)id);
	return;
fail:
	monitor_pam_free(p);
	monitor_pam_result(id, MON_PAM_NOSTART, 0, "cannot start a PAM helper");
}

/* What the helper says, checked and passed on to the engine. */
static void
monitor_pam_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint8_t		 buf[TOKEND_HDR_LEN + TOKEND_FRAME_MAX];
	struct mon_pam		*p = arg;
	struct frame_hdr	 hdr;
	struct rbuf		 r;
	struct wbuf		 w;
	char			 why[TOKEND_ERRMSG_MAX + 1];
	ssize_t			 len;
	size_t			 off;
	uint32_t		 uid;
	int			 ok;

	(void)events;
	len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (len == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
	    (size_t)len != TOKEND_HDR_LEN + hdr.length) {
		/* A PAM module crashed or exited: nobody was authenticated. */
		log_warnx("PAM helper %d ended without an answer", (int)p->pid);
		monitor_pam_result(p->id, MON_PAM_ENDED, 0, "");
		monitor_pam_free(p);
		return;
	}
	if (hdr.type == MSG_CONV) {
		wbuf_init(&w);
		off = frame_begin(&w, MON_PAM_CONV);
		wbuf_u32(&w, p->id);
		wbuf_put(&w, buf + TOKEND_HDR_LEN, hdr.length);
		frame_end(&w, off);
		explicit_bzero(buf, (size_t)len);
		monitor_send(&w, -1);
		wbuf_free(&w);
		return;
	}
	ok = 0;
	uid = 0;
	why[0] = '\0';
	if (hdr.type == PAMHELPER_MSG_RESULT) {
		rbuf_init(&r, buf + TOKEND_HDR_LEN, hdr.length);
		ok = rbuf_u8(&r);
		uid = rbuf_u32(&r);
		rbuf_str(&r, why, sizeof(why));
		if (rbuf_done(&r) == -1)
			hdr.type = 0;
	}
	if (hdr.type != PAMHELPER_MSG_RESULT) {
		log_warnx("PAM helper %d sent a bad message", (int)p->pid);
		monitor_pam_result(p->id, MON_PAM_ENDED, 0, "");
	} else
		monitor_pam_result(p->id, ok == 1 ? MON_PAM_OK : ok == 2 ?
		    MON_PAM_REFUSED : ok == 3 ? MON_PAM_AFTER : MON_PAM_FAILED,
		    ok == 3 || ok == 1 ? uid : 0, why);
	monitor_pam_free(p);
}

static void
monitor_pam_reply(uint32_t id, const uint8_t *body, size_t len)
{
	struct mon_pam	*p = monitor_pam_find(id);
	struct wbuf	 w;
	size_t		 off;

	if (p == NULL)
		return;		/* it ended meanwhile */
	wbuf_init(&w);
	off = frame_begin(&w, MSG_CONV_REPLY);
	wbuf_put(&w, body, len);
	frame_end(&w, off);
	if (w.failed || send(p->fd, w.data, w.len, MSG_NOSIGNAL) == -1) {
		monitor_pam_result(id, MON_PAM_ENDED, 0, "");
		monitor_pam_free(p);
	}
	wbuf_free(&w);		/* wipes the answers */
}

/* ---- one-time-code enrolments ---- */

/* With enrolment on, otp_dir exists (0700): say so early when it cannot. */
static void
monitor_otp_dir(void)
{
	if (m.conf.otp_enroll && otp_mkdir(m.conf.otp_dir) == -1)
		log_warn("otp_enroll = yes, but %s cannot be made; enrolments "
		    "will fail", m.conf.otp_dir);
}

/*
 * Whether user has an enrolment, or (an admin's request, the engine
 * checked the caller) remove it.  A stat or an unlink: no helper needed.
 */
static void
monitor_otp_ask(uint32_t id, int op, const char *user)
{
	struct wbuf	 w;
	size_t		 off;
	int64_t		 since = 0;
	int		 rc, result;
	char		 why[TOKEND_ERRMSG_MAX + 1] = "";

	if (op == OTP_REMOVE)
		rc = otp_remove(m.conf.otp_dir, user);
	else
		rc = otp_stat(m.conf.otp_dir, user, &since);
	if (rc == -1) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		log_warnx("one-time-code enrolment of %s: %s/%s.oath: %s",
		    user, m.conf.otp_dir, user, why);
		result = MON_OTP_ERROR;
		since = 0;
	} else
		result = rc == 1 ? MON_OTP_YES : MON_OTP_NONE;
	if (op == OTP_REMOVE)
		since = 0;
	wbuf_init(&w);
	off = frame_begin(&w, MON_OTP_ANSWER);
	wbuf_u32(&w, id);
	wbuf_u8(&w, (uint8_t)result);
	wbuf_u64(&w, (uint64_t)since);
	wbuf_str(&w, why);
	frame_end(&w, off);
	monitor_send(&w, -1);
	wbuf_free(&w);
}

/* ---- the account helper ---- */

static void
monitor_acct_lost(const char *why)
{
	struct wbuf	w;
	size_t		off;

	if (why != NULL)
		log_warnx("account helper %d %s", (int)m.acct_pid, why);
	if (m.acct_pid > 0)
		kill(m.acct_pid, SIGKILL);
	m.acct_pid = -1;
	if (m.ev_acct != NULL) {
		event_free(m.ev_acct);
		m.ev_acct = NULL;
	}
	if (m.acct_fd != -1) {
		close(m.acct_fd);
		m.acct_fd = -1;
	}
	wbuf_init(&w);
	off = frame_begin(&w, MON_ACCT_LOST);
	frame_end(&w, off);
	monitor_send(&w, -1);
	wbuf_free(&w);
}

static int
monitor_acct_start(void)
{
	char	 name[] = "tokend-account-helper", flag[] = "--account-helper";
	char	*argv[] = { name, flag, m.conf.pam_service, m.conf.pam_confdir,
		    NULL };
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("account helper: socketpair");
		return -1;
	}
	if ((m.acct_pid = helper_spawn(sv[1], argv, ACCOUNT_HELPER_NICE, 0)) ==
	    -1) {
		log_warn("cannot start the account helper (%s)", helper_path());
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	m.acct_fd = sv[0];
	fcntl(m.acct_fd, F_SETFL, fcntl(m.acct_fd, F_GETFL) | O_NONBLOCK);
	if ((m.ev_acct = event_new(m.base, m.acct_fd, EV_READ | EV_PERSIST,
	    monitor_acct_cb, NULL)) == NULL ||
	    event_add(m.ev_acct, NULL) == -1)
		return -1;
	log_debug("account helper %d started", (int)m.acct_pid);
	return 0;
}

/* A look-up or check for the engine, passed to the helper as it is. */
static void
monitor_acct_ask(int type, uint32_t uid, const char *name)
{
	struct wbuf	w;
	size_t		off;

	if (m.acct_fd == -1 && monitor_acct_start() == -1) {
		monitor_acct_lost("could not be started");
		return;
	}
	wbuf_init(&w);
	off = frame_begin(&w, (uint8_t)type);
	wbuf_u32(&w, uid);
	wbuf_str(&w, name);
	frame_end(&w, off);
	if (w.failed || send(m.acct_fd, w.data, w.len, MSG_NOSIGNAL |
	    MSG_DONTWAIT) == -1)
		monitor_acct_lost("cannot be reached");
	wbuf_free(&w);
}

static void
monitor_acct_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint8_t		 buf[TOKEND_HDR_LEN + 8 + 2 * (2 +
				    TOKEND_ERRMSG_MAX + TOKEND_USER_MAX)];
	struct frame_hdr	 hdr;
	struct wbuf		 w;
	ssize_t			 len;
	size_t			 off;

	(void)events;
	(void)arg;
	for (;;) {
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (len == -1 && errno == EINTR)
			continue;
		if (len == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (len <= 0) {
			monitor_acct_lost("ended");
			return;
		}
		if ((size_t)len > sizeof(buf) || len < TOKEND_HDR_LEN ||
		    frame_hdr_decode(buf, &hdr) == -1 ||
		    hdr.type != ACCOUNT_MSG_ANSWER ||
		    (size_t)len != TOKEND_HDR_LEN + hdr.length) {
			monitor_acct_lost("sent a malformed answer");
			return;
		}
		/* The engine checks the body as it checks everything. */
		wbuf_init(&w);
		off = frame_begin(&w, MON_ACCT_ANSWER);
		wbuf_put(&w, buf + TOKEND_HDR_LEN, hdr.length);
		frame_end(&w, off);
		monitor_send(&w, -1);
		wbuf_free(&w);
	}
}

/* ---- the channel ---- */

/* One message from the engine, checked whole before anything is done. */
static void
monitor_handle(int type, const uint8_t *body, size_t len)
{
	static struct mon_msg	 mm;	/* not on the stack: PAM answers pass */
	const char		*why;

	if (mon_decode((uint8_t)type, body, len, &mm, &why) == -1)
		monitor_violation(type, why);
	switch (type) {
	case MON_KEY_WANTED:
		if (m.phase != PHASE_INIT)
			monitor_violation(type, "not expected now");
		m.phase = PHASE_KEY;
		monitor_key(mm.flag);
		return;
	case MON_READY:
		if (m.phase != PHASE_KEY)
			monitor_violation(type, "not expected now");
		m.phase = PHASE_READY;
		monitor_ready();
		return;
	case MON_LOG:
		log_line(mm.flag, mm.text);
		return;
	}
	if (m.phase != PHASE_READY)
		monitor_violation(type, "not expected before the engine is ready");
	switch (type) {
	case MON_PAM_START:
		monitor_pam_start(mm.id, mm.uid, mm.user, mm.ruser, mm.flag);
		break;
	case MON_PAM_REPLY:
		monitor_pam_reply(mm.id, mm.reply, mm.reply_len);
		break;
	case MON_PAM_CANCEL:
		if (monitor_pam_find(mm.id) != NULL)
			monitor_pam_free(monitor_pam_find(mm.id));
		break;
	case MON_ACCT_ASK:
		monitor_acct_ask(mm.flag, mm.uid, mm.user);
		break;
	case MON_OTP_ASK:
		monitor_otp_ask(mm.id, mm.flag, mm.user);
		break;
	case MON_ACCT_RESET:
		/*
		 * With no helper, the one the engine means has ended and its
		 * ACCT_LOST is on its way: one ACCT_LOST per helper, or the
		 * engine would take the second for the next helper's end.
		 */
		if (m.acct_fd != -1 || m.acct_pid > 0)
			monitor_acct_lost(NULL);
		break;
	}
}

/* The channel closed, yet the engine did not exit: it is not trusted. */
static void
monitor_grace_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (m.stopping)
		log_warnx("the engine did not stop within %d s", STOP_GRACE_SEC);
	else
		log_warnx("the engine closed its channel but did not exit");
	monitor_exit(1);
}

static void
monitor_arm_grace(int sec)
{
	struct timeval	tv = { sec, 0 };

	if (m.ev_grace == NULL &&
	    (m.ev_grace = evtimer_new(m.base, monitor_grace_cb, NULL)) == NULL)
		monitor_exit(1);
	evtimer_add(m.ev_grace, &tv);
}

/*
 * Read at most budget messages from the engine (a flood must not keep
 * signals waiting), or, with last_words, only its last log lines once it
 * has exited.
 */
static void
monitor_chan_read(int budget, int last_words)
{
	struct frame_hdr	 hdr;
	const uint8_t		*body;
	const char		*why = NULL;
	int			 rc, passed;

	while (budget-- > 0) {
		rc = channel_recv(m.chan, msgbuf, &channel_to_monitor, &hdr,
		    &body, &passed, &why);
		if (rc == 0)
			return;
		if (rc == -1) {
			/* Gone (SIGCHLD tells how), or closed on purpose. */
			if (m.ev_chan != NULL)
				event_del(m.ev_chan);
			if (!last_words)
				monitor_arm_grace(GONE_GRACE_SEC);
			return;
		}
		if (rc == -2) {
			if (last_words)
				return;
			monitor_violation(-1, why);
		}
		if (passed != -1) {
			close(passed);
			if (!last_words)
				monitor_violation(hdr.type,
				    "a descriptor came with it");
		} else if (!last_words || hdr.type == MON_LOG)
			monitor_handle(hdr.type, body, hdr.length);
		explicit_bzero(msgbuf, TOKEND_HDR_LEN + hdr.length);
	}
}

static void
monitor_chan_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	monitor_chan_read(CHAN_BUDGET, 0);
}

/* ---- processes and signals ---- */

static void
monitor_spawn_engine(void)
{
	char	 name[] = "tokend-engine", flag[] = "--engine";
	char	*argv[] = { name, flag, NULL };
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if ((m.engine = helper_spawn(sv[1], argv, 0,
	    !m.opts.foreground)) == -1)
		fatal("cannot start the engine (%s)", helper_path());
	close(sv[1]);
	m.chan = sv[0];
	fcntl(m.chan, F_SETFL, fcntl(m.chan, F_GETFL) | O_NONBLOCK);
	if (channel_out_init(&m.out, m.base, m.chan, monitor_engine_gone) == -1)
		fatalx("cannot watch the engine");
	if ((m.ev_chan = event_new(m.base, m.chan, EV_READ | EV_PERSIST,
	    monitor_chan_cb, NULL)) == NULL || event_add(m.ev_chan, NULL) == -1)
		fatalx("cannot watch the engine");
}

static void
monitor_reap(void)
{
	struct mon_pam	*p;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m.engine) {
			m.engine = -1;
			/* What it said last (why it failed) comes first. */
			monitor_chan_read(CHAN_BUDGET * 16, 1);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			    m.stopping)
				monitor_exit(0);
			if (WIFSIGNALED(status))
				log_warnx("the engine was killed by signal %d",
				    WTERMSIG(status));
			else if (m.phase == PHASE_READY)
				log_warnx("the engine exited with status %d",
				    WEXITSTATUS(status));
			/* (Before it was ready, it said why itself.) */
			monitor_exit(1);
		}
		TAILQ_FOREACH(p, &m.pams, entry)
			if (p->pid == pid)
				p->pid = 0;	/* its socket tells the rest */
		if (pid == m.acct_pid)
			m.acct_pid = -1;
		if (pid == m.fleet) {
			m.fleet = -1;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
				log_warnx("fleet mode: the database is not one "
				    "this tokend can use (see above); stopping");
			else if (!m.stopping)
				log_warnx("fleet mode: the fleet process ended "
				    "(status %d); stopping", WIFEXITED(status) ?
				    WEXITSTATUS(status) : 128 + WTERMSIG(status));
			if (!m.stopping)
				monitor_exit(1);
		}
		helper_log_exit(pid, status);
	}
}

static void
monitor_reload(void)
{
	struct config	 conf;
	char		*cause = NULL;

	if (monitor_config(&conf, &cause) == -1) {
		log_warnx("reload failed, keeping the running configuration: %s",
		    cause ? cause : "?");
		free(cause);
		return;
	}
	/* Paths and the user are fixed for the life of the process. */
	if (strcmp(conf.socket_path, m.conf.socket_path) != 0 ||
	    strcmp(conf.db_dir, m.conf.db_dir) != 0 ||
	    strcmp(conf.key_file, m.conf.key_file) != 0 ||
	    strcmp(conf.user, m.conf.user) != 0 ||
	    strcmp(conf.store, m.conf.store) != 0 ||
	    strcmp(conf.postgresql, m.conf.postgresql) != 0)
		log_warnx("reload: socket, database and key paths, the user "
		    "and the store change only on restart");
	memcpy(conf.store, m.conf.store, sizeof(conf.store));
	memcpy(conf.postgresql, m.conf.postgresql, sizeof(conf.postgresql));
	memcpy(conf.socket_path, m.conf.socket_path, sizeof(conf.socket_path));
	memcpy(conf.db_dir, m.conf.db_dir, sizeof(conf.db_dir));
	memcpy(conf.key_file, m.conf.key_file, sizeof(conf.key_file));
	memcpy(conf.user, m.conf.user, sizeof(conf.user));
	conf.map_size = m.conf.map_size;
	m.conf = conf;
	monitor_fd_limit();
	monitor_warn_retired();
	monitor_otp_dir();
	monitor_groups();
	if (m.phase == PHASE_READY)
		monitor_send_config();
	else
		m.reload_pending = 1;	/* sent once the engine is ready */
	log_info("configuration reloaded from %s", m.opts.conf_path);
}

static void	monitor_signal(int);

/*
 * Signals come through a signalfd, never a handler: a handler's frame is
 * pushed on the stack with every register in it, and a register may just
 * hold a PAM answer being copied; the frame would outlive the copy.
 */
static void
monitor_signal_cb(evutil_socket_t fd, short events, void *arg)
{
	struct signalfd_siginfo	si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		monitor_signal((int)si.ssi_signo);
}

static void
monitor_signal(int sig)
{
	switch (sig) {
	case SIGHUP:
		monitor_reload();
		break;
	case SIGCHLD:
		monitor_reap();
		break;
	case SIGTERM:
	case SIGINT:
		if (m.stopping) {
			log_warnx("signal %d again: stopping at once", sig);
			monitor_exit(1);
		}
		log_info("stopping on signal %d", (int)sig);
		monitor_notify("STOPPING=1");
		m.stopping = 1;
		/* Not serving yet: nothing to drain (the engine follows us). */
		if (m.phase != PHASE_READY)
			monitor_exit(0);
		/* The engine answers what it has, then exits; then so do we. */
		if (m.engine > 0) {
			monitor_send_stop();
			monitor_arm_grace(STOP_GRACE_SEC);
		}
		break;
	}
}

int
monitor_main(const struct monitor_opts *opts)
{
	struct event	*ev_sig;
	const int	 sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	sigset_t	 set;
	int		 sfd;
	char		*cause = NULL;
	int		 i;

	memset(&m, 0, sizeof(m));
	m.opts = *opts;
	m.listen_fd = m.chan = m.acct_fd = m.ready_fd = -1;
	m.acct_pid = m.engine = m.fleet = -1;
	TAILQ_INIT(&m.pams);
	log_init(1, opts->debug);
	/* Held for the signalfd from the start; helpers unblock them. */
	sigemptyset(&set);
	for (i = 0; i < 4; i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if (monitor_config(&m.conf, &cause) == -1)
		fatalx("%s", cause ? cause : "bad configuration");
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (opts->check)
		monitor_check();
	if (opts->key_id)
		monitor_key_id();
	if (opts->init_db) {
		if (strcmp(m.conf.store, "postgresql") != 0)
			fatalx("--init-db: %s does not say store = postgresql",
			    opts->conf_path);
		exit(fleet_init_db(m.conf.postgresql) == 0 ? 0 : 1);
	}
	if (opts->import_lmdb != NULL) {
		if (strcmp(m.conf.store, "postgresql") != 0)
			fatalx("--import-lmdb: %s does not say store = "
			    "postgresql", opts->conf_path);
		exit(fleet_import_lmdb(m.conf.postgresql, opts->import_lmdb,
		    m.conf.map_size) == 0 ? 0 : 1);
	}
	monitor_harden();
	monitor_user();
	monitor_fd_limit();
	monitor_warn_retired();
	if (!opts->foreground)
		monitor_daemonize();
	m.started = (int64_t)time(NULL);
	monitor_db_dir();
	monitor_otp_dir();
	monitor_groups();
	if (helper_init(&cause) == -1)
		fatalx("%s", cause);
	m.socket_bound = 0;
	if ((m.listen_fd = listener_inherited()) != -1)
		log_info("using the listening socket passed by the service "
		    "manager");
	else if ((m.listen_fd = listener_bind(m.conf.socket_path, &cause)) ==
	    -1)
		fatalx("%s", cause ? cause : "cannot listen");
	else
		m.socket_bound = 1;
	m.self = getpid();
	atexit(monitor_atexit);

	if ((m.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	if ((ev_sig = event_new(m.base, sfd, EV_READ | EV_PERSIST,
	    monitor_signal_cb, NULL)) == NULL || event_add(ev_sig, NULL) == -1)
		fatalx("cannot watch signals");
	monitor_spawn_engine();
	monitor_send_init();
	m.phase = PHASE_INIT;
	event_base_dispatch(m.base);
	monitor_exit(1);
}
