/* SPDX-License-Identifier: ISC */
/*
 * tokend-bench: load generator for tokend's VERIFY and EXCHANGE paths,
 * after MUNGE's remunge and redis-benchmark.
 *
 * One thread and epoll: N connections each keep P requests in flight;
 * tokens come round-robin from a file, one per line.  A request counts as
 * done only when the daemon answered success (VERIFY: an active token;
 * EXCHANGE: an EXCHANGED frame); any other answer, a dropped connection or
 * an answer that never came is an error.  Latency is send-to-answer, kept in
 * a log-linear histogram (1/64 relative precision, no allocation per
 * request).  The last line of output is one JSON object:
 *   {"op","connections","pipeline","ops_per_sec","p50_us","p99_us","p999_us","errors"}
 *
 * --op redis-get sends redis's GET key:__rand_int__ instead (a hit once
 * the key is set), so that make bench can compare tokend with redis through
 * the same client code, beside redis-benchmark.
 *
 * Exit status: 0 when every request succeeded, 1 when any failed, 2 usage,
 * 3 the daemon could not be reached.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define HIST_SUB_BITS	6
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_BUCKETS	(HIST_SUB * 64)
#define IBUF_INIT	16384
#define MAX_EVENTS	256
#define PIPELINE_MAX	4096
#define ANSWER_WAIT_NS	1000000000u	/* in flight this long at the end: an error */

enum bench_op {
	OP_VERIFY,
	OP_EXCHANGE,
	OP_MIXED,
	OP_REDIS_GET,
};

static const char *const op_names[] = { "verify", "exchange", "mixed",
    "redis-get" };

#define REDIS_GET	"*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n"
#define KIND_REDIS	0xff

/* One pre-encoded request frame in the arena. */
struct req {
	size_t		off;
	size_t		len;
};

struct conn {
	int		 fd;
	int		 dead;
	int		 answered;	/* a success since the last connect */
	uint8_t		*ibuf;
	size_t		 ilen;
	size_t		 icap;
	uint8_t		*obuf;
	size_t		 olen;
	size_t		 ooff;
	size_t		 ocap;
	int		 pollout;
	/* ring of requests in flight: send time and kind */
	uint64_t	*sent;
	uint8_t		*kind;
	unsigned	 head;
	unsigned	 count;
};

struct stats {
	uint64_t	ok;
	uint64_t	errors;
	uint64_t	inactive;		/* VERIFY_RESULT active=0 */
	uint64_t	err_code[16];		/* ERROR frames by code */
	uint64_t	unexpected;		/* another frame type */
	uint64_t	lost;			/* in flight when a connection broke */
	uint64_t	unanswered;		/* no answer within ANSWER_WAIT_NS */
	uint64_t	reconnects;
	uint64_t	answered;		/* answers seen (success or not) */
	uint64_t	max_ns;
	uint64_t	hist[HIST_BUCKETS];
};

static struct {
	const char	*socket_path;
	const char	*tokens_path;
	enum bench_op	 op;
	unsigned	 connections;
	unsigned	 pipeline;
	double		 duration;
	int		 quiet;
} opt = { NULL, NULL, OP_VERIFY, 16, 1, 5.0, 0 };

static struct wbuf	 arena;		/* every request frame, built at load */
static struct req	*verify_reqs;
static struct req	*exchange_reqs;
static size_t		 ntokens;
static size_t		 max_frame;
static uint64_t		 next_req;	/* round-robin position */
static struct stats	 st;
static struct conn	*conns;
static unsigned		 alive;
static int		 epfd = -1;
static volatile sig_atomic_t interrupted;

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tokend-bench --socket PATH --op verify|exchange|mixed "
	    "--tokens FILE\n"
	    "                    [--connections N] [--pipeline P] "
	    "[--duration SECONDS] [--quiet]\n"
	    "       tokend-bench --socket REDIS-SOCKET --op redis-get "
	    "[--connections N] ...\n");
	exit(status);
}

static uint64_t
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
bench_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---------------------------------------------------------------- histogram */

static unsigned
hist_index(uint64_t v)
{
	unsigned	msb, shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)(v >> shift) - HIST_SUB;
}

/* The middle of bucket i, in ns. */
static double
hist_value(unsigned i)
{
	unsigned	shift;
	uint64_t	lo;

	if (i < 2 * HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	lo = (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
	return (double)lo + (double)((uint64_t)1 << shift) / 2;
}

static void
hist_add(uint64_t ns)
{
	unsigned	i = hist_index(ns);

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	st.hist[i]++;
	if (ns > st.max_ns)
		st.max_ns = ns;
}

/* Latency at quantile q (0..1), in µs; 0 when nothing was measured. */
static double
hist_quantile(double q)
{
	uint64_t	want, seen = 0;
	unsigned	i;

	if (st.answered == 0)
		return 0;
	want = (uint64_t)(q * (double)st.answered + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += st.hist[i];
		if (seen >= want)
			break;
	}
	if (i < HIST_BUCKETS && hist_value(i) < (double)st.max_ns)
		return hist_value(i) / 1000.0;
	return (double)st.max_ns / 1000.0;
}

/* ---------------------------------------------------------------- tokens */

static void
add_request(struct req *r, int type, const char *token)
{
	size_t	off = frame_begin(&arena, type);

	wbuf_str(&arena, token);
	if (type == MSG_EXCHANGE) {
		wbuf_u32(&arena, 0);	/* default lifetime */
		wbuf_u8(&arena, 0);	/* the refresh token's scopes */
	}
	frame_end(&arena, off);
	r->off = off;
	r->len = arena.len - off;
	if (r->len > max_frame)
		max_frame = r->len;
}

/*
 * Encode one VERIFY and one EXCHANGE frame per line of the file.  Lines are
 * sent as they are (without the line end): a bad token must be refused by
 * the daemon, not filtered here.
 */
static int
load_tokens(const char *path)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 size = 0, cap = 0, lineno = 0;
	ssize_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "tokend-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	wbuf_init(&arena);
	while ((n = getline(&line, &size, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if ((size_t)n > 0xffff) {
			fprintf(stderr, "tokend-bench: %s:%zu: line too long\n",
			    path, lineno);
			goto fail;
		}
		if (ntokens == cap) {
			cap = cap ? cap * 2 : 256;
			verify_reqs = realloc(verify_reqs,
			    cap * sizeof(*verify_reqs));
			exchange_reqs = realloc(exchange_reqs,
			    cap * sizeof(*exchange_reqs));
			if (verify_reqs == NULL || exchange_reqs == NULL) {
				fprintf(stderr, "tokend-bench: out of memory\n");
				goto fail;
			}
		}
		add_request(&verify_reqs[ntokens], MSG_VERIFY, line);
		add_request(&exchange_reqs[ntokens], MSG_EXCHANGE, line);
		ntokens++;
	}
	if (ferror(f)) {
		fprintf(stderr, "tokend-bench: %s: read error\n", path);
		goto fail;
	}
	if (ntokens == 0) {
		fprintf(stderr, "tokend-bench: %s: no tokens\n", path);
		goto fail;
	}
	if (arena.failed) {
		fprintf(stderr, "tokend-bench: %s: cannot encode the requests\n",
		    path);
		goto fail;
	}
	free(line);
	fclose(f);
	return 0;
fail:
	free(line);
	fclose(f);
	return -1;
}

static void
load_redis(void)
{
	static struct req	r;

	r.off = 0;
	r.len = sizeof(REDIS_GET) - 1;
	wbuf_init(&arena);
	wbuf_put(&arena, REDIS_GET, r.len);
	if (arena.failed) {
		fprintf(stderr, "tokend-bench: out of memory\n");
		exit(2);
	}
	verify_reqs = &r;
	ntokens = 1;
	max_frame = r.len;
}

/* ---------------------------------------------------------------- connections */

static int
conn_connect(struct conn *c)
{
	struct sockaddr_un	sun;
	struct epoll_event	ev;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, opt.socket_path, strlen(opt.socket_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	c->fd = fd;
	c->ilen = c->olen = c->ooff = 0;
	c->head = c->count = 0;
	c->pollout = 0;
	c->answered = 0;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Append the next request to c's output and note it in flight. */
static void
conn_queue(struct conn *c, uint64_t now)
{
	const struct req	*r;
	uint64_t		 i = next_req++;
	unsigned		 slot;
	uint8_t			 kind;

	switch (opt.op) {
	case OP_VERIFY:
		kind = MSG_VERIFY;
		r = &verify_reqs[i % ntokens];
		break;
	case OP_EXCHANGE:
		kind = MSG_EXCHANGE;
		r = &exchange_reqs[i % ntokens];
		break;
	case OP_MIXED:	/* verify a token, then exchange it */
		kind = i % 2 ? MSG_EXCHANGE : MSG_VERIFY;
		r = kind == MSG_VERIFY ? &verify_reqs[i / 2 % ntokens] :
		    &exchange_reqs[i / 2 % ntokens];
		break;
	default:
		kind = KIND_REDIS;
		r = &verify_reqs[0];
		break;
	}
	if (c->olen + r->len > c->ocap) {
		memmove(c->obuf, c->obuf + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	memcpy(c->obuf + c->olen, arena.data + r->off, r->len);
	c->olen += r->len;
	slot = (c->head + c->count) % opt.pipeline;
	c->sent[slot] = now;
	c->kind[slot] = kind;
	c->count++;
}

static void
conn_pollout(struct conn *c, int on)
{
	struct epoll_event	ev;

	if (c->pollout == on)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->pollout = on;
}

static void	conn_broken(struct conn *, const char *);

/* Write what is queued: one send(2) for every request queued in a pass. */
static void
conn_flush(struct conn *c)
{
	ssize_t	n;

	while (c->ooff < c->olen) {
		n = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->ooff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_pollout(c, 1);
			return;
		}
		conn_broken(c, "send");
		return;
	}
	c->olen = c->ooff = 0;
	conn_pollout(c, 0);
}

static void
conn_fill(struct conn *c, uint64_t now)
{
	while (c->count < opt.pipeline)
		conn_queue(c, now);
	conn_flush(c);
}

/*
 * The daemon closed the connection or broke the protocol: whatever was in
 * flight failed.  Reconnect, unless the connection never got one success,
 * which means the daemon refuses us and retrying would only spin.
 */
static void
conn_broken(struct conn *c, const char *why)
{
	if (!opt.quiet && !c->answered)
		fprintf(stderr, "tokend-bench: connection lost (%s) before any "
		    "success\n", why);
	st.errors += c->count;
	st.lost += c->count;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->count = 0;
	if (c->answered && !interrupted && conn_connect(c) == 0) {
		st.reconnects++;
		conn_fill(c, bench_now());
		return;
	}
	c->dead = 1;
	alive--;
}

/* One answer to the oldest request in flight. */
static void
conn_answer(struct conn *c, const struct frame_hdr *hdr, const uint8_t *body,
    uint64_t now)
{
	uint64_t	sent = c->sent[c->head];
	uint8_t		kind = c->kind[c->head];
	int		ok = 0;

	c->head = (c->head + 1) % opt.pipeline;
	c->count--;
	st.answered++;
	hist_add(now > sent ? now - sent : 0);
	if (kind == KIND_REDIS) {
		if (hdr->type == MSG_VERIFY_RESULT)
			ok = 1;		/* resp_parse's "bulk string" */
		else
			st.unexpected++;
	} else if (kind == MSG_VERIFY && hdr->type == MSG_VERIFY_RESULT) {
		if (body[0] == 1)
			ok = 1;
		else
			st.inactive++;
	} else if (kind == MSG_EXCHANGE && hdr->type == MSG_EXCHANGED)
		ok = 1;
	else if (hdr->type == MSG_ERROR) {
		uint16_t code = (uint16_t)(body[0] << 8 | body[1]);

		st.err_code[code < 16 ? code : 0]++;
	} else
		st.unexpected++;
	if (ok) {
		st.ok++;
		c->answered = 1;
	} else
		st.errors++;
}

/*
 * One redis reply at p[0..n): 0 and *need when complete (hdr->type tells a
 * bulk string from anything else), 1 when more bytes are needed, -1 when it
 * is not a reply this client asked for.
 */
static int
resp_parse(const uint8_t *p, size_t n, size_t *need, struct frame_hdr *hdr)
{
	const uint8_t	*eol;
	long		 len = 0;
	size_t		 i;

	if ((eol = memchr(p, '\n', n)) == NULL)
		return n > 512 ? -1 : 1;
	*need = (size_t)(eol - p) + 1;
	hdr->type = MSG_ERROR;
	if (p[0] != '$')
		return p[0] == '-' || p[0] == '+' || p[0] == ':' ? 0 : -1;
	if (p[1] == '-')
		return 0;	/* nil: the key is not set */
	for (i = 1; p + i < eol - 1; i++) {
		if (p[i] < '0' || p[i] > '9' || len > TOKEND_FRAME_MAX)
			return -1;
		len = len * 10 + (p[i] - '0');
	}
	*need += (size_t)len + 2;
	hdr->type = MSG_VERIFY_RESULT;
	return 0;
}

static void
conn_read(struct conn *c, int more)
{
	struct frame_hdr	 hdr;
	size_t			 pos = 0, need;
	ssize_t			 n;
	uint64_t		 now;
	uint8_t			*p;
	int			 k;

	n = read(c->fd, c->ibuf + c->ilen, c->icap - c->ilen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_broken(c, n == 0 ? "closed by the daemon" : "read error");
		return;
	}
	now = bench_now();
	c->ilen += (size_t)n;
	while (opt.op == OP_REDIS_GET ? c->ilen > pos :
	    c->ilen - pos >= TOKEND_HDR_LEN) {
		if (opt.op == OP_REDIS_GET) {
			k = resp_parse(c->ibuf + pos, c->ilen - pos, &need, &hdr);
			if (k == 1)
				need = c->ilen - pos + 1;
			hdr.length = 0;
		} else {
			k = frame_hdr_decode(c->ibuf + pos, &hdr) == -1 ||
			    hdr.type < 0x80 ||
			    !msg_len_ok(hdr.type, hdr.length) ? -1 : 0;
			need = TOKEND_HDR_LEN + hdr.length;
		}
		if (k == -1 || c->count == 0) {
			conn_broken(c, "protocol error");
			return;
		}
		if (c->ilen - pos < need) {
			if (need > c->icap) {
				if ((p = realloc(c->ibuf, need)) == NULL) {
					conn_broken(c, "out of memory");
					return;
				}
				c->ibuf = p;
				c->icap = need;
			}
			break;
		}
		conn_answer(c, &hdr, c->ibuf + pos + (need - hdr.length), now);
		pos += need;
		if (more)
			conn_queue(c, now);
	}
	if (pos > 0) {
		memmove(c->ibuf, c->ibuf + pos, c->ilen - pos);
		c->ilen -= pos;
	}
	conn_flush(c);
}

static int
conns_open(void)
{
	unsigned	i;
	size_t		ocap = (size_t)opt.pipeline * max_frame;

	if ((conns = calloc(opt.connections, sizeof(*conns))) == NULL)
		return -1;
	for (i = 0; i < opt.connections; i++) {
		struct conn *c = &conns[i];

		c->icap = IBUF_INIT;
		c->ocap = ocap;
		c->ibuf = malloc(c->icap);
		c->obuf = malloc(c->ocap);
		c->sent = calloc(opt.pipeline, sizeof(*c->sent));
		c->kind = calloc(opt.pipeline, sizeof(*c->kind));
		if (c->ibuf == NULL || c->obuf == NULL || c->sent == NULL ||
		    c->kind == NULL)
			return -1;
		if (conn_connect(c) == -1) {
			fprintf(stderr, "tokend-bench: connect %s: %s\n",
			    opt.socket_path, strerror(errno));
			return -1;
		}
		alive++;
	}
	return 0;
}

/* Requests still waiting at the end after ANSWER_WAIT_NS count as errors. */
static void
conns_count_unanswered(uint64_t now)
{
	struct conn	*c;
	unsigned	 i, j;

	for (i = 0; i < opt.connections; i++) {
		c = &conns[i];
		if (c->dead)
			continue;
		for (j = 0; j < c->count; j++)
			if (now - c->sent[(c->head + j) % opt.pipeline] >
			    ANSWER_WAIT_NS)
				st.unanswered++;
	}
	st.errors += st.unanswered;
}

/* ---------------------------------------------------------------- main */

static void
raise_fd_limit(unsigned want)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want + 16)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want + 16 ?
	    want + 16 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static unsigned
parse_uint(const char *s, const char *what, unsigned min, unsigned max)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "tokend-bench: %s must be %u to %u: %s\n", what,
		    min, max, s);
		usage(2);
	}
	return (unsigned)v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",	 required_argument, NULL, 's' },
		{ "op",		 required_argument, NULL, 'o' },
		{ "tokens",	 required_argument, NULL, 't' },
		{ "connections", required_argument, NULL, 'c' },
		{ "pipeline",	 required_argument, NULL, 'P' },
		{ "duration",	 required_argument, NULL, 'd' },
		{ "quiet",	 no_argument,	    NULL, 'q' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	*end;
	int	 ch;

	while ((ch = getopt_long(argc, argv, "s:o:t:c:P:d:qh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			opt.socket_path = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "verify") == 0)
				opt.op = OP_VERIFY;
			else if (strcmp(optarg, "exchange") == 0)
				opt.op = OP_EXCHANGE;
			else if (strcmp(optarg, "mixed") == 0)
				opt.op = OP_MIXED;
			else if (strcmp(optarg, "redis-get") == 0)
				opt.op = OP_REDIS_GET;
			else {
				fprintf(stderr, "tokend-bench: unknown op: %s\n",
				    optarg);
				usage(2);
			}
			break;
		case 't':
			opt.tokens_path = optarg;
			break;
		case 'c':
			opt.connections = parse_uint(optarg, "--connections",
			    1, 100000);
			break;
		case 'P':
			opt.pipeline = parse_uint(optarg, "--pipeline", 1,
			    PIPELINE_MAX);
			break;
		case 'd':
			errno = 0;
			opt.duration = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(opt.duration > 0 && opt.duration <= 86400)) {
				fprintf(stderr, "tokend-bench: --duration must be "
				    "0 to 86400 seconds: %s\n", optarg);
				usage(2);
			}
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc || opt.socket_path == NULL ||
	    (opt.tokens_path == NULL && opt.op != OP_REDIS_GET))
		usage(2);
	if (strlen(opt.socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "tokend-bench: socket path too long\n");
		exit(2);
	}
}

static void
report(double elapsed)
{
	double		ops = elapsed > 0 ? (double)st.ok / elapsed : 0;
	unsigned	i;

	if (!opt.quiet) {
		printf("%s: %u connections x %u in flight, %.2f s: %" PRIu64
		    " ok, %" PRIu64 " errors, %.0f ops/s\n", op_names[opt.op],
		    opt.connections, opt.pipeline, elapsed, st.ok, st.errors,
		    ops);
		printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  "
		    "max %.1f\n", hist_quantile(0.5), hist_quantile(0.9),
		    hist_quantile(0.99), hist_quantile(0.999),
		    (double)st.max_ns / 1000.0);
		if (st.errors > 0) {
			printf("errors: %" PRIu64 " inactive, %" PRIu64
			    " unexpected answers, %" PRIu64 " lost with a "
			    "connection (%" PRIu64 " reconnects), %" PRIu64
			    " unanswered", st.inactive, st.unexpected, st.lost,
			    st.reconnects, st.unanswered);
			for (i = 0; i < 16; i++)
				if (st.err_code[i] > 0)
					printf(", %" PRIu64 " ERROR %u (%s)",
					    st.err_code[i], i, proto_err_name(i));
			printf("\n");
		}
	}
	printf("{\"op\":\"%s\",\"connections\":%u,\"pipeline\":%u,"
	    "\"ops_per_sec\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	    "\"p999_us\":%.1f,\"errors\":%" PRIu64 "}\n", op_names[opt.op],
	    opt.connections, opt.pipeline, ops, hist_quantile(0.5),
	    hist_quantile(0.99), hist_quantile(0.999), st.errors);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct epoll_event	 evs[MAX_EVENTS];
	struct sigaction	 sa;
	struct conn		*c;
	uint64_t		 start, deadline, now;
	unsigned		 i;
	int			 n, k, timeout;

	parse_args(argc, argv);
	if (opt.op == OP_REDIS_GET)
		load_redis();
	else if (load_tokens(opt.tokens_path) == -1)
		return 2;
	raise_fd_limit(opt.connections);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("tokend-bench: epoll_create1");
		return 3;
	}
	if (conns_open() == -1)
		return 3;

	start = now = bench_now();
	deadline = start + (uint64_t)(opt.duration * 1e9);
	for (i = 0; i < opt.connections; i++)
		conn_fill(&conns[i], now);
	while (now < deadline && alive > 0 && !interrupted) {
		timeout = (int)((deadline - now) / 1000000) + 1;
		n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
		if (n == -1 && errno != EINTR) {
			perror("tokend-bench: epoll_wait");
			return 3;
		}
		now = bench_now();
		for (k = 0; k < n; k++) {
			c = evs[k].data.ptr;
			if (c->dead || c->fd == -1)
				continue;
			if (evs[k].events & EPOLLOUT)
				conn_flush(c);
			if (c->fd != -1 &&
			    evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_read(c, now < deadline);
		}
	}
	conns_count_unanswered(now);
	report((double)(now - start) / 1e9);
	return st.errors > 0 || st.ok == 0 ? 1 : 0;
}
