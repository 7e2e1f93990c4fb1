/*
 * tokend: start-up, signals, timers and shut-down.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
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
#include "log.h"
#include "pamhelper.h"
#include "ratelimit.h"
#include "helper.h"
#include "store.h"
#include "token.h"
#include "vcache.h"
#include "writer.h"

#define STOP_GRACE_SEC	5
#define PURGE_AGAIN_SEC	1	/* a purge that hit its batch limit goes on after this */
#define FD_RESERVE	32	/* descriptors kept for the store, helpers, logs */

static struct daemon	 daemon_state;
struct daemon		*td = &daemon_state;

/* Command-line values that win over the config file, also after SIGHUP. */
static const char	*flag_keys[] = { "socket_path", "db_dir", "key_file",
			    "pam_service", "pam_confdir" };
static const char	*flag_values[5];

static struct event	*ev_purge, *ev_purge_again, *ev_flush, *ev_stop, *ev_writer;
static int		 socket_bound;	/* we created the socket file */

static void	limit_connections(void);
static void	warn_retired(const struct config *);
static int		 ready_fd = -1;	/* pipe to the waiting parent */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tokend [-f|--foreground] [-c FILE] [--socket PATH] "
	    "[--db DIR]\n"
	    "              [--key-file FILE] [--pam-service NAME] "
	    "[--pam-confdir DIR] [-d|--debug]\n");
	exit(status);
}

static int
apply_flags(struct config *conf, char **cause)
{
	size_t	i;

	for (i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
		if (flag_values[i] != NULL &&
		    config_set(conf, flag_keys[i], flag_values[i], cause) == -1)
			return -1;
	return 0;
}

static void
resolve_groups(void)
{
	td->have_admin_gid = td->conf.admin_group[0] != '\0' &&
	    config_group_gid(td->conf.admin_group, &td->admin_gid) == 0;
	if (td->conf.admin_group[0] != '\0' && !td->have_admin_gid)
		log_warnx("admin group %s does not exist: only root is admin",
		    td->conf.admin_group);
	td->have_verifier_gid = td->conf.verifier_group[0] != '\0' &&
	    config_group_gid(td->conf.verifier_group, &td->verifier_gid) == 0;
	if (td->conf.verifier_group[0] != '\0' && !td->have_verifier_gid)
		log_warnx("verifier group %s does not exist: only root may "
		    "verify", td->conf.verifier_group);
}

/* Tell systemd (Type=notify) what we are doing; no libsystemd needed. */
static void
notify(const char *state)
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
 * Go to the background, but keep the parent waiting until start-up is
 * done, so `tokend` without -f still fails loudly with a reason.
 */
static void
daemonize_begin(void)
{
	int	fds[2];
	char	c;
	pid_t	pid;

	if (pipe2(fds, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(fds[1]);
		/* The child logs its own failure on stderr before exiting. */
		_exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	ready_fd = fds[1];
	if (setsid() == -1)
		fatal("setsid");
}

static void
daemonize_end(void)
{
	int	fd;

	if (ready_fd == -1)
		return;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(ready_fd, "", 1) != 1)
		log_warn("cannot tell the parent we are ready");
	close(ready_fd);
	ready_fd = -1;
}

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

static void
reload(void)
{
	struct config	 conf = td->conf;
	char		*cause = NULL;

	if (config_load(&conf, td->conf_path, td->conf_given, &cause) == -1 ||
	    apply_flags(&conf, &cause) == -1) {
		log_warnx("reload failed, keeping the running configuration: %s",
		    cause ? cause : "?");
		free(cause);
		return;
	}
	/* Paths are fixed for the life of the process. */
	if (strcmp(conf.socket_path, td->conf.socket_path) != 0 ||
	    strcmp(conf.db_dir, td->conf.db_dir) != 0 ||
	    strcmp(conf.key_file, td->conf.key_file) != 0)
		log_warnx("reload: socket, database and key paths change only "
		    "on restart");
	memcpy(conf.socket_path, td->conf.socket_path, sizeof(conf.socket_path));
	memcpy(conf.db_dir, td->conf.db_dir, sizeof(conf.db_dir));
	memcpy(conf.key_file, td->conf.key_file, sizeof(conf.key_file));
	conf.map_size = td->conf.map_size;
	td->conf = conf;
	vcache_forget_all();	/* answers may depend on what changed */
	resolve_groups();
	limit_connections();
	warn_retired(&td->conf);
	account_configure();
	arm_timers();
	log_info("configuration reloaded from %s", td->conf_path);
}

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

static void
signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct timeval	grace = { STOP_GRACE_SEC, 0 };

	(void)events;
	(void)arg;
	switch (sig) {
	case SIGHUP:
		reload();
		break;
	case SIGCHLD:
		helper_reap();
		break;
	case SIGTERM:
	case SIGINT:
		if (td->stopping)
			break;
		log_info("stopping on signal %d", (int)sig);
		notify("STOPPING=1");
		td->stopping = 1;
		listener_close();
		ev_stop = evtimer_new(td->base, stop_cb, NULL);
		if (ev_stop != NULL)
			event_add(ev_stop, &grace);
		conn_stop_all();
		break;
	}
}

/*
 * Every connection holds a descriptor: raise the soft limit to the hard
 * one (the daemon uses epoll, never select), then keep max_connections
 * below what is left, so accept(2) does not run out first.
 */
static void
raise_fd_limit(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

static void
limit_connections(void)
{
	struct rlimit	rl;
	rlim_t		room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return;
	room = rl.rlim_cur > FD_RESERVE + td->conf.max_pam_helpers ?
	    rl.rlim_cur - FD_RESERVE - td->conf.max_pam_helpers : 1;
	if (td->conf.max_connections > room) {
		log_warnx("max_connections %u lowered to %u: the open-file limit "
		    "is %llu", td->conf.max_connections, (unsigned)room,
		    (unsigned long long)rl.rlim_cur);
		td->conf.max_connections = (unsigned)room;
		if (td->conf.max_connections_per_uid > td->conf.max_connections)
			td->conf.max_connections_per_uid =
			    td->conf.max_connections;
	}
}

/* Keys that are read but no longer do anything. */
static void
warn_retired(const struct config *conf)
{
	if (conf->verify_fail_burst != TOKEND_DEF_VERIFY_FAIL_BURST ||
	    conf->verify_fail_per_minute != TOKEND_DEF_VERIFY_FAIL_PER_MINUTE)
		log_warnx("verify_fail_burst and verify_fail_per_minute are "
		    "ignored: VERIFY has no failure limit (tokend.conf(5))");
}

static void
harden(void)
{
	struct rlimit	rl = { 0, 0 };

	umask(077);
	/* No core dumps: memory holds keys, tokens and PAM answers. */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("PR_SET_DUMPABLE");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("RLIMIT_CORE");
	signal(SIGPIPE, SIG_IGN);
}

static void
open_state(void)
{
	struct store_stats	 ss;
	struct stat		 st;
	char			*cause = NULL;

	if (mkdir(td->conf.db_dir, 0700) == -1 && errno != EEXIST)
		fatal("cannot create database directory %s", td->conf.db_dir);
	if (stat(td->conf.db_dir, &st) == -1 || !S_ISDIR(st.st_mode))
		fatalx("database directory %s is not a directory",
		    td->conf.db_dir);
	if (access(td->conf.db_dir, R_OK | W_OK | X_OK) == -1)
		fatalx("database directory %s is not writable by uid %u",
		    td->conf.db_dir, (unsigned)geteuid());
	if (store_open(&td->store, td->conf.db_dir, td->conf.map_size,
	    &cause) == -1)
		fatalx("cannot open the token database in %s: %s",
		    td->conf.db_dir, cause ? cause : "?");
	store_get_stats(td->store, &ss);
	/* A new key is made only for an empty database: old hashes need the old key. */
	if (token_keys_load(td->conf.key_file, ss.tokens == 0, &td->keys,
	    &cause) == -1)
		fatalx("%s", cause ? cause : "cannot load the key file");
	if (lastused_init() == -1 || vcache_init() == -1)
		fatalx("out of memory");
	log_info("database %s: %llu tokens", td->conf.db_dir,
	    (unsigned long long)ss.tokens);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "db",		required_argument,	NULL, 'D' },
		{ "key-file",	required_argument,	NULL, 'k' },
		{ "pam-service", required_argument,	NULL, 'p' },
		{ "pam-confdir", required_argument,	NULL, 'P' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct event	*ev_sig[4];
	const int	 sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	char		*cause = NULL;
	int		 ch, foreground = 0, debug = 0, i;

	/* Helpers started by the daemon (helper.h). */
	if (argc >= 2 && strcmp(argv[1], "--pam-helper") == 0)
		pamchild_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--account-helper") == 0)
		accountchild_main(argc, argv);

	while ((ch = getopt_long(argc, argv, "fc:dhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':	foreground = 1; break;
		case 'c':
			if (strlen(optarg) >= sizeof(td->conf_path))
				usage(2);
			memcpy(td->conf_path, optarg, strlen(optarg) + 1);
			td->conf_given = 1;
			break;
		case 's':	flag_values[0] = optarg; break;
		case 'D':	flag_values[1] = optarg; break;
		case 'k':	flag_values[2] = optarg; break;
		case 'p':	flag_values[3] = optarg; break;
		case 'P':	flag_values[4] = optarg; break;
		case 'd':	debug = 1; break;
		case 'h':	usage(0);
		case 'V':	printf("tokend %s\n", TOKEND_VERSION); return 0;
		default:	usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (!td->conf_given)
		snprintf(td->conf_path, sizeof(td->conf_path), "%s",
		    TOKEND_CONF_FILE);

	log_init(1, debug);
	config_defaults(&td->conf);
	if (config_load(&td->conf, td->conf_path, td->conf_given, &cause) == -1 ||
	    apply_flags(&td->conf, &cause) == -1)
		fatalx("%s", cause ? cause : "bad configuration");
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	harden();
	if (!foreground)
		daemonize_begin();

	clock_init();
	td->listen_fd = -1;
	td->started = clock_now();
	raise_fd_limit();
	limit_connections();
	warn_retired(&td->conf);
	resolve_groups();
	if (helper_init(&cause) == -1)
		fatalx("%s", cause);
	open_state();

	if ((td->base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	dispatch_init();
	/* Before listener_open(), which unsets LISTEN_FDS once it took the socket. */
	socket_bound = getenv("LISTEN_FDS") == NULL;
	if (listener_open(&cause) == -1)
		fatalx("%s", cause ? cause : "cannot listen");
	for (i = 0; i < 4; i++) {
		ev_sig[i] = evsignal_new(td->base, sigs[i], signal_cb, NULL);
		if (ev_sig[i] == NULL || event_add(ev_sig[i], NULL) == -1)
			fatalx("cannot watch signal %d", sigs[i]);
	}
	if (account_init(&cause) == -1)
		fatalx("%s", cause);
	if (writer_start(td->store, &cause) == -1)
		fatalx("%s", cause ? cause : "cannot start the writer thread");
	ev_writer = event_new(td->base, writer_fd(), EV_READ | EV_PERSIST,
	    writer_cb, NULL);
	if (ev_writer == NULL || event_add(ev_writer, NULL) == -1)
		fatalx("cannot watch the writer thread");
	ev_purge = event_new(td->base, -1, EV_PERSIST, purge_cb, NULL);
	ev_purge_again = evtimer_new(td->base, purge_cb, NULL);
	ev_flush = event_new(td->base, -1, EV_PERSIST, flush_cb, NULL);
	if (ev_purge == NULL || ev_purge_again == NULL || ev_flush == NULL)
		fatalx("cannot create timers");
	arm_timers();
	purge_cb(-1, 0, NULL);

	log_info("tokend %s listening on %s (pid %d)", TOKEND_VERSION,
	    td->conf.socket_path, (int)getpid());
	if (!foreground) {
		daemonize_end();
		log_init(0, debug);
	}
	notify("READY=1");

	event_base_dispatch(td->base);

	lastused_flush();
	writer_stop();		/* every write durable and answered */
	lastused_flush();	/* what waited behind a flush in flight (written here) */
	event_free(ev_writer);
	if (socket_bound && unlink(td->conf.socket_path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", td->conf.socket_path);
	for (i = 0; i < 4; i++)
		event_free(ev_sig[i]);
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
	log_info("stopped");
	return 0;
}
