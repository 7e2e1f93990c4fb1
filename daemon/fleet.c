/* SPDX-License-Identifier: ISC */
/*
 * The fleet process: `tokend --fleet UID GID`, started by the monitor in
 * fleet mode with its link to the engine as fd 3 (fleet.h says what it
 * is for).  It drops to the engine's user, then runs one libpq
 * connection in non-blocking mode on its own event loop: one statement
 * at a time, writes and look-ups first, the poll of the counter row when
 * idle.  Nothing here waits on the network: a statement gets 5 seconds,
 * then the connection is dropped and made again, with backoff.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "clock.h"
#include "fleet.h"
#include "helper.h"
#include "log.h"
#include "monitor.h"
#include "sandbox.h"
#include "storeimpl.h"	/* STORE_ROTATE_KEEP: the chain the copy keeps */

#define FLEET_STMT_MS		5000	/* a statement's answer, at most */
#define FLEET_SNAPSHOT_MS	300000	/* every token, at start */
#define FLEET_POLL_MS		500	/* the counter row, when idle */
#define FLEET_TICK_MS		100
#define FLEET_BACKOFF_MAX_MS	5000
#define FLEET_LOG_BATCH		10000	/* log rows per catch-up statement */

#define FLEET_COLS	"id, user_name, uid, kind, created, expires, last_used," \
			" encode(hash, 'hex'), name, scopes, rotated_to," \
			" overlap_until, rotated_from"
#define FLEET_NCOLS	13

enum fjob_kind {
	FJ_SETUP,	/* LISTEN, and the schema's version */
	FJ_SNAPSHOT,	/* every record, consistent, and the seq it is at */
	FJ_POLL,	/* the counter row: contact, and is there more */
	FJ_LOG,		/* the changes after seq */
	FJ_WRITE,	/* an engine's write */
	FJ_LOOKUP,	/* one record the engine lacks */
	FJ_LAST_USED,
	FJ_PURGE,
};

struct fjob {
	TAILQ_ENTRY(fjob)	 entry;
	enum fjob_kind		 kind;
	uint32_t		 job;		/* the engine's number */
	uint8_t			 optype;	/* FJ_WRITE: enum store_op_type */
	uint32_t		 max_per_user;
	int64_t			 now;
	int64_t			 until;		/* ROTATE: end of the overlap */
	uint64_t		 id;
	uint32_t		 uid;
	struct token_record	 rec;
	size_t			 n;
	uint64_t		*ids;
	int64_t			*times;
	/* what the answer said so far */
	int			 result;
	unsigned		 count;
	int			 have_rec;
	uint64_t		 snap_seq;
	uint64_t		 last_seq;
	unsigned		 rows;
	char			 cause[TOKEND_ERRMSG_MAX + 1];
};

TAILQ_HEAD(fjobs, fjob);

static struct {
	struct event_base	*base;
	int			 link;
	struct event		*ev_link;
	struct event		*ev_db;
	struct event		*ev_tick;
	char			 conninfo[1024];
	PGconn			*db;
	int			 connecting;	/* PQconnectPoll under way */
	int			 ready;		/* set up: statements may go */
	int			 want_read;	/* what PQconnectPoll waits for */
	struct fjob		*cur;
	int64_t			 deadline;	/* cur's, monotonic ms */
	struct fjobs		 q;
	uint64_t		 seq;		/* changes applied up to */
	int			 have_seq;	/* a snapshot was sent */
	int			 poll_now;	/* NOTIFY: poll at once */
	int			 log_failing;	/* said so once */
	int64_t			 next_poll;
	int64_t			 next_connect;
	unsigned		 backoff;
	char			 server[128];
} f;

static void	fleet_db_cb(evutil_socket_t, short, void *);
static void	fleet_next(void);
static void	fleet_lost(const char *);
static void	fleet_watch(int);

/* ---- to the engine ---- */

static void
fleet_send(struct wbuf *w)
{
	if (w->failed)
		fatalx("fleet: a message to the engine does not fit");
	/* The engine reads as it can: wait for room rather than drop. */
	while (send(f.link, w->data, w->len, MSG_NOSIGNAL) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			usleep(1000);
			continue;
		}
		fatal("fleet: the engine is gone");
	}
	wbuf_reset(w);
}

static void
fleet_contact(int connected)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, FL_CONTACT);
	wbuf_u8(&w, (uint8_t)connected);
	wbuf_u64(&w, f.seq);
	wbuf_str(&w, f.server);
	frame_end(&w, off);
	fleet_send(&w);
	wbuf_free(&w);
}

static void
fleet_result(const struct fjob *j)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, FL_RESULT);
	wbuf_u32(&w, j->job);
	wbuf_u8(&w, (uint8_t)-j->result);
	wbuf_u32(&w, j->count);
	wbuf_str(&w, j->cause);
	wbuf_u8(&w, (uint8_t)j->have_rec);
	if (j->have_rec)
		fleet_put_record(&w, &j->rec);
	frame_end(&w, off);
	fleet_send(&w);
	wbuf_free(&w);
}

static void
fleet_found(const struct fjob *j)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, FL_FOUND);
	wbuf_u32(&w, j->job);
	wbuf_u8(&w, (uint8_t)j->have_rec);
	if (j->have_rec)
		fleet_put_record(&w, &j->rec);
	frame_end(&w, off);
	fleet_send(&w);
	wbuf_free(&w);
}

static void
fleet_change(int kind, uint64_t id, const struct token_record *rec)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, FL_CHANGE);
	wbuf_u8(&w, (uint8_t)kind);
	wbuf_u64(&w, id);
	if (kind == FL_CHANGE_PUT)
		fleet_put_record(&w, rec);
	frame_end(&w, off);
	fleet_send(&w);
	wbuf_free(&w);
}

static void
fleet_snapshot(int phase)
{
	struct wbuf	w;
	size_t		off;

	wbuf_init(&w);
	off = frame_begin(&w, FL_SNAPSHOT);
	wbuf_u8(&w, (uint8_t)phase);
	frame_end(&w, off);
	fleet_send(&w);
	wbuf_free(&w);
}

/* ---- records ---- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Row r of res (FLEET_COLS from column col) into *rec, with this host's
 * uid for the user name.  0, or -1 when the name is no local account
 * (or the row is malformed).
 */
static int
fleet_row(const PGresult *res, int r, int col, struct token_record *rec)
{
	char		 buf[16384], *save = NULL, *s;
	struct passwd	 pw, *pwp = NULL;
	const char	*hex, *scopes;
	size_t		 i;
	int		 hi, lo;

	memset(rec, 0, sizeof(*rec));
	rec->id = (uint64_t)strtoll(PQgetvalue(res, r, col), NULL, 10);
	snprintf(rec->user, sizeof(rec->user), "%s", PQgetvalue(res, r, col + 1));
	rec->kind = (uint8_t)atoi(PQgetvalue(res, r, col + 3));
	rec->created = strtoll(PQgetvalue(res, r, col + 4), NULL, 10);
	rec->expires = strtoll(PQgetvalue(res, r, col + 5), NULL, 10);
	rec->last_used = strtoll(PQgetvalue(res, r, col + 6), NULL, 10);
	hex = PQgetvalue(res, r, col + 7);
	if (strlen(hex) != 2 * sizeof(rec->hash))
		return -1;
	for (i = 0; i < sizeof(rec->hash); i++) {
		if ((hi = hexval(hex[2 * i])) < 0 ||
		    (lo = hexval(hex[2 * i + 1])) < 0)
			return -1;
		rec->hash[i] = (uint8_t)(hi << 4 | lo);
	}
	snprintf(rec->name, sizeof(rec->name), "%s", PQgetvalue(res, r, col + 8));
	scopes = PQgetvalue(res, r, col + 9);
	snprintf(buf, sizeof(buf), "%s", scopes);
	for (s = strtok_r(buf, " ", &save); s != NULL &&
	    rec->nscopes < TOKEND_SCOPES_MAX; s = strtok_r(NULL, " ", &save))
		snprintf(rec->scopes[rec->nscopes++], sizeof(rec->scopes[0]),
		    "%s", s);
	rec->rotated_to = (uint64_t)strtoll(PQgetvalue(res, r, col + 10), NULL, 10);
	rec->overlap_until = strtoll(PQgetvalue(res, r, col + 11), NULL, 10);
	rec->rotated_from = (uint64_t)strtoll(PQgetvalue(res, r, col + 12), NULL, 10);
	/* A row the store could not keep is no token (a bad edit by hand). */
	if (rec->id == 0 || rec->kind != TOKEN_REFRESH || rec->created < 0 ||
	    rec->expires < 0 || rec->user[0] == '\0' || rec->name[0] == '\0' ||
	    store_record_encode(rec, (uint8_t *)buf) == 0)
		return -1;
	/* A token belongs to a name; on this host, to that name's uid. */
	if (getpwnam_r(rec->user, &pw, buf, sizeof(buf), &pwp) != 0 ||
	    pwp == NULL)
		return -1;
	rec->uid = (uint32_t)pw.pw_uid;
	return 0;
}

/* ---- jobs ---- */

static struct fjob *fleet_job_new(enum fjob_kind);

/* Put a new job of kind at the head of the queue (next to run). */
static void
fleet_first(enum fjob_kind kind)
{
	struct fjob	*j = fleet_job_new(kind);

	TAILQ_INSERT_HEAD(&f.q, j, entry);
}

static struct fjob *
fleet_job_new(enum fjob_kind kind)
{
	struct fjob	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("fleet: out of memory");
	j->kind = kind;
	return j;
}

static void
fleet_job_free(struct fjob *j)
{
	free(j->ids);
	free(j->times);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* j will not run (no connection, or it failed): say so where it matters. */
static void
fleet_job_fail(struct fjob *j, const char *why)
{
	if (j->kind == FJ_WRITE) {
		j->result = STORE_UNAVAIL;
		j->have_rec = 0;
		snprintf(j->cause, sizeof(j->cause), "%s", why);
		fleet_result(j);
	} else if (j->kind == FJ_LOOKUP) {
		j->have_rec = 0;
		fleet_found(j);
	}
	fleet_job_free(j);
}

static void
fleet_queue(struct fjob *j)
{
	if (!f.ready) {
		fleet_job_fail(j, "the token database is unreachable; nothing "
		    "was changed");
		return;
	}
	TAILQ_INSERT_TAIL(&f.q, j, entry);
	fleet_next();
}

static void
num(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%" PRId64, v);
}

/* "{1,2,3}": an array literal of n numbers. */
static char *
fleet_array(const int64_t *v, const uint64_t *u, size_t n)
{
	char	*s, *p;
	size_t	 i, size = 2 + n * 22;

	if ((s = malloc(size)) == NULL)
		fatal("fleet: out of memory");
	p = s;
	*p++ = '{';
	for (i = 0; i < n; i++)
		p += snprintf(p, size - (size_t)(p - s), "%s%" PRId64,
		    i ? "," : "", v != NULL ? v[i] : (int64_t)u[i]);
	*p++ = '}';
	*p = '\0';
	return s;
}

/* Send j's statement.  0, or -1 (the connection failed). */
static int
fleet_send_job(struct fjob *j)
{
	struct fleet_issue_params ip;
	char		 p[3][24];
	char		*a = NULL, *b = NULL;
	const char	*v[3], *rv[6];
	struct passwd	*pw;
	int		 ok = 0;

	switch (j->kind) {
	case FJ_SETUP:
		ok = PQsendQuery(f.db, "LISTEN tokend; "
		    "SELECT max(version) FROM tokend_schema");
		break;
	case FJ_SNAPSHOT:
		ok = PQsendQuery(f.db, "BEGIN ISOLATION LEVEL REPEATABLE READ "
		    "READ ONLY; SELECT seq FROM tokend_state; SELECT " FLEET_COLS
		    " FROM tokend_tokens; COMMIT");
		break;
	case FJ_POLL:
		ok = PQsendQuery(f.db, "SELECT seq, trimmed FROM tokend_state");
		break;
	case FJ_LOG:
		num(p[0], sizeof(p[0]), (int64_t)f.seq);
		v[0] = p[0];
		ok = PQsendQueryParams(f.db, "SELECT l.seq, l.id, t.id IS NULL, "
		    "t.* FROM tokend_log l LEFT JOIN (SELECT " FLEET_COLS
		    " FROM tokend_tokens) t ON t.id = l.id WHERE l.seq > $1 "
		    "ORDER BY l.seq LIMIT 10000", 1, NULL, v, NULL, NULL, 0);
		break;
	case FJ_LOOKUP:
		num(p[0], sizeof(p[0]), (int64_t)j->id);
		v[0] = p[0];
		ok = PQsendQueryParams(f.db, "SELECT " FLEET_COLS " FROM "
		    "tokend_tokens WHERE id = $1", 1, NULL, v, NULL, NULL, 0);
		break;
	case FJ_LAST_USED:
		a = fleet_array(NULL, j->ids, j->n);
		b = fleet_array(j->times, NULL, j->n);
		v[0] = a;
		v[1] = b;
		ok = PQsendQueryParams(f.db, "SELECT tokend_last_used($1, $2)",
		    2, NULL, v, NULL, NULL, 0);
		break;
	case FJ_PURGE:
		num(p[0], sizeof(p[0]), j->now);
		v[0] = p[0];
		ok = PQsendQueryParams(f.db, "SELECT tokend_purge($1)", 1, NULL,
		    v, NULL, NULL, 0);
		break;
	case FJ_WRITE:
		switch (j->optype) {
		case STORE_OP_PUT:
			fleet_issue_params(&ip, &j->rec, j->max_per_user,
			    j->now);
			ok = PQsendQueryParams(f.db, FLEET_ISSUE_SQL,
			    FLEET_ISSUE_NPARAMS, NULL, ip.v, NULL, NULL, 0);
			explicit_bzero(&ip, sizeof(ip));
			break;
		case STORE_OP_DEL:
			num(p[0], sizeof(p[0]), (int64_t)j->id);
			v[0] = p[0];
			ok = PQsendQueryParams(f.db, "SELECT " FLEET_COLS " FROM "
			    "tokend_revoke($1)", 1, NULL, v, NULL, NULL, 0);
			break;
		case STORE_OP_DEL_USER:
			/* The engine names the local uid; the fleet, its name. */
			if ((pw = getpwuid(j->uid)) == NULL) {
				j->result = STORE_ERR;
				snprintf(j->cause, sizeof(j->cause), "uid %u has "
				    "no name", (unsigned)j->uid);
				return 1;
			}
			v[0] = pw->pw_name;
			ok = PQsendQueryParams(f.db, "SELECT "
			    "tokend_revoke_user($1)", 1, NULL, v, NULL, NULL, 0);
			break;
		case STORE_OP_RENAME:
			num(p[0], sizeof(p[0]), (int64_t)j->id);
			v[0] = p[0];
			v[1] = j->rec.name;
			num(p[2], sizeof(p[2]), j->now);
			v[2] = p[2];
			ok = PQsendQueryParams(f.db, "SELECT " FLEET_COLS " FROM "
			    "tokend_rename($1, $2, $3)", 3, NULL, v, NULL, NULL, 0);
			break;
		case STORE_OP_ROTATE:
			/* Built like tokend_issue's: id, hash and created. */
			fleet_issue_params(&ip, &j->rec, 0, 0);
			num(p[0], sizeof(p[0]), (int64_t)j->id);
			num(p[1], sizeof(p[1]), j->until);
			num(p[2], sizeof(p[2]), STORE_ROTATE_KEEP);
			rv[0] = p[0];
			rv[1] = ip.v[0];
			rv[2] = ip.v[6];
			rv[3] = ip.v[4];
			rv[4] = p[1];
			rv[5] = p[2];
			ok = PQsendQueryParams(f.db, "SELECT tokend_rotate($1, $2, "
			    "decode($3, 'hex'), $4, $5, $6)", 6, NULL, rv, NULL,
			    NULL, 0);
			explicit_bzero(&ip, sizeof(ip));
			break;
		case STORE_OP_UNROTATE:
			num(p[0], sizeof(p[0]), (int64_t)j->id);
			num(p[1], sizeof(p[1]), (int64_t)j->rec.id);
			v[0] = p[0];
			v[1] = p[1];
			ok = PQsendQueryParams(f.db, "SELECT tokend_unrotate($1, $2)",
			    2, NULL, v, NULL, NULL, 0);
			break;
		case STORE_OP_DEL_CHAIN:
			num(p[0], sizeof(p[0]), (int64_t)j->id);
			v[0] = p[0];
			ok = PQsendQueryParams(f.db, "SELECT "
			    "tokend_revoke_chain($1)", 1, NULL, v, NULL, NULL, 0);
			break;
		default:
			j->result = STORE_ERR;
			snprintf(j->cause, sizeof(j->cause), "not available in "
			    "fleet mode");
			return 1;
		}
		break;
	}
	free(a);
	free(b);
	if (!ok)
		return -1;
	switch (PQflush(f.db)) {
	case -1:
		return -1;
	case 1:		/* the rest when the socket takes it */
		fleet_watch(1);
		break;
	}
	return 0;
}

/* One result of j's statement (there may be several, then NULL). */
static void
fleet_take(struct fjob *j, PGresult *res)
{
	ExecStatusType	 st = PQresultStatus(res);
	const char	*state;
	int		 r, n;

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (j->kind == FJ_WRITE && j->optype == STORE_OP_RENAME &&
		    state != NULL && strcmp(state, "23505") == 0) {
			j->result = STORE_EXISTS;
			snprintf(j->cause, sizeof(j->cause), "name exists");
			return;
		}
		if (j->kind == FJ_SETUP) {
			log_warnx("fleet: the database %s has no tokend schema "
			    "(%s): run tokend --init-db", f.server,
			    PQresultErrorMessage(res));
			exit(3);
		}
		j->result = STORE_ERR;
		snprintf(j->cause, sizeof(j->cause), "%s",
		    PQresultErrorMessage(res));
		j->cause[strcspn(j->cause, "\n")] = '\0';
		return;
	}
	if (st != PGRES_TUPLES_OK)
		return;
	n = PQntuples(res);
	switch (j->kind) {
	case FJ_SETUP:
		if (n != 1 || atoi(PQgetvalue(res, 0, 0)) != FLEET_SCHEMA_VERSION) {
			log_warnx("fleet: the database %s has schema version %s; "
			    "this tokend knows version %d: run tokend --init-db "
			    "(or upgrade tokend)", f.server, n == 1 ?
			    PQgetvalue(res, 0, 0) : "none", FLEET_SCHEMA_VERSION);
			exit(3);
		}
		return;
	case FJ_SNAPSHOT:
		if (PQnfields(res) == 1) {
			if (n != 1) {
				j->result = STORE_ERR;
				snprintf(j->cause, sizeof(j->cause), "no row in "
				    "tokend_state");
				return;
			}
			j->snap_seq = (uint64_t)strtoll(PQgetvalue(res, 0, 0),
			    NULL, 10);
			return;
		}
		if (j->result != STORE_OK)
			return;
		fleet_snapshot(1);
		for (r = 0; r < n; r++)
			if (fleet_row(res, r, 0, &j->rec) == 0)
				fleet_change(FL_CHANGE_PUT, j->rec.id, &j->rec);
		explicit_bzero(&j->rec, sizeof(j->rec));
		fleet_snapshot(2);
		j->rows = (unsigned)n;
		return;
	case FJ_POLL:
		if (n != 1) {
			j->result = STORE_ERR;
			snprintf(j->cause, sizeof(j->cause), "no row in "
			    "tokend_state");
			return;
		}
		j->snap_seq = (uint64_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		j->last_seq = (uint64_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		return;
	case FJ_LOG:
		for (r = 0; r < n; r++) {
			j->last_seq = (uint64_t)strtoll(PQgetvalue(res, r, 0),
			    NULL, 10);
			j->id = (uint64_t)strtoll(PQgetvalue(res, r, 1), NULL, 10);
			if (strcmp(PQgetvalue(res, r, 2), "t") == 0 ||
			    fleet_row(res, r, 3, &j->rec) == -1)
				fleet_change(FL_CHANGE_DEL, j->id, NULL);
			else
				fleet_change(FL_CHANGE_PUT, j->id, &j->rec);
		}
		explicit_bzero(&j->rec, sizeof(j->rec));
		j->rows = (unsigned)n;
		return;
	case FJ_LOOKUP:
		j->have_rec = n == 1 && fleet_row(res, 0, 0, &j->rec) == 0;
		return;
	case FJ_WRITE:
		switch (j->optype) {
		case STORE_OP_PUT:
			r = atoi(PQgetvalue(res, 0, 0));
			j->result = r == 0 ? STORE_OK : r == 1 ? STORE_LIMIT :
			    STORE_EXISTS;
			if (r == 3)
				snprintf(j->cause, sizeof(j->cause),
				    "token id exists");
			return;
		case STORE_OP_DEL_USER:
			j->count = (unsigned)atoi(PQgetvalue(res, 0, 0));
			return;
		case STORE_OP_ROTATE:
		case STORE_OP_UNROTATE:
			r = atoi(PQgetvalue(res, 0, 0));
			j->result = r == 0 ? STORE_OK : r == 2 ? STORE_EXISTS :
			    STORE_NOTFOUND;
			if (r != 0)
				snprintf(j->cause, sizeof(j->cause), "%s", r == 2 ?
				    "rotated already" : "no such token");
			return;
		case STORE_OP_DEL_CHAIN:
			if (atoi(PQgetvalue(res, 0, 0)) < 0) {
				j->result = STORE_NOTFOUND;
				snprintf(j->cause, sizeof(j->cause),
				    "no such token");
			}
			return;
		default:	/* DEL, RENAME: the record, or none */
			if (n == 0) {
				j->result = STORE_NOTFOUND;
				snprintf(j->cause, sizeof(j->cause),
				    "no such token");
			} else if (fleet_row(res, 0, 0, &j->rec) == 0)
				j->have_rec = 1;
			return;
		}
	default:
		return;
	}
}

/* j's statement is answered: pass the answer on, decide what follows. */
static void
fleet_done(struct fjob *j)
{
	switch (j->kind) {
	case FJ_SETUP:
		log_info("fleet: connected to %s, schema version %d", f.server,
		    FLEET_SCHEMA_VERSION);
		f.poll_now = 1;
		break;
	case FJ_SNAPSHOT:
		if (j->result != STORE_OK) {
			log_warnx("fleet: snapshot failed: %s", j->cause);
			break;
		}
		f.seq = j->snap_seq;
		f.have_seq = 1;
		log_info("fleet: %u token%s copied from the database, at change "
		    "%" PRIu64, j->rows, j->rows == 1 ? "" : "s", f.seq);
		fleet_contact(1);
		break;
	case FJ_POLL:
		if (j->result != STORE_OK)
			break;
		/*
		 * Contact means "this host has every change up to now": only
		 * when there is nothing to catch up on, else once it is read.
		 */
		if (!f.have_seq || j->last_seq > f.seq || j->snap_seq < f.seq) {
			if (f.have_seq)
				log_warnx("fleet: the change log %s change %"
				    PRIu64 ": copying every token again",
				    j->snap_seq < f.seq ? "went back before" :
				    "was trimmed past", f.seq);
			fleet_first(FJ_SNAPSHOT);
		} else if (j->snap_seq > f.seq)
			fleet_first(FJ_LOG);
		else
			fleet_contact(1);
		break;
	case FJ_LOG:
		if (j->result != STORE_OK) {
			/* No contact either: the host goes stale, as it must. */
			if (!f.log_failing)
				log_warnx("fleet: cannot read the change log: %s",
				    j->cause);
			f.log_failing = 1;
			break;
		}
		if (f.log_failing)
			log_info("fleet: reading the change log again");
		f.log_failing = 0;
		if (j->rows > 0)
			f.seq = j->last_seq;
		if (j->rows >= FLEET_LOG_BATCH)
			fleet_first(FJ_LOG);
		else
			fleet_contact(1);
		break;
	case FJ_WRITE:
		fleet_result(j);
		break;
	case FJ_LOOKUP:
		fleet_found(j);
		break;
	case FJ_LAST_USED:
	case FJ_PURGE:
		if (j->result != STORE_OK)
			log_warnx("fleet: %s failed: %s", j->kind == FJ_PURGE ?
			    "purge" : "saving last-used times", j->cause);
		break;
	}
	fleet_job_free(j);
}

/* Send the next statement, if none is under way. */
static void
fleet_next(void)
{
	struct fjob	*j;
	int		 rc;

	while (f.ready && f.cur == NULL) {
		/*
		 * The poll when it is due: when nothing waits, and, once the
		 * copy exists, before the engine's queued requests (a stream
		 * of look-ups must not keep the host from following changes);
		 * never ahead of the set-up, a snapshot or a read of the log.
		 */
		j = TAILQ_FIRST(&f.q);
		if ((f.poll_now || clock_mono_ms() >= f.next_poll) &&
		    (j == NULL || (f.have_seq && (j->kind == FJ_WRITE ||
		    j->kind == FJ_LOOKUP || j->kind == FJ_LAST_USED ||
		    j->kind == FJ_PURGE)))) {
			f.poll_now = 0;
			f.next_poll = clock_mono_ms() + FLEET_POLL_MS;
			j = fleet_job_new(FJ_POLL);
		} else if (j != NULL)
			TAILQ_REMOVE(&f.q, j, entry);
		else
			return;
		if ((rc = fleet_send_job(j)) == -1) {
			TAILQ_INSERT_HEAD(&f.q, j, entry);
			fleet_lost(PQerrorMessage(f.db));
			return;
		}
		if (rc == 1) {		/* refused before it was sent */
			fleet_done(j);
			continue;
		}
		f.cur = j;
		/* A snapshot streams every token: it may take a while. */
		f.deadline = clock_mono_ms() + (j->kind == FJ_SNAPSHOT ?
		    FLEET_SNAPSHOT_MS : FLEET_STMT_MS);
	}
}

/* ---- the connection ---- */

static void
fleet_watch(int write)
{
	if (f.ev_db != NULL)
		event_free(f.ev_db);
	f.ev_db = event_new(f.base, PQsocket(f.db), EV_PERSIST |
	    (write ? EV_WRITE : EV_READ), fleet_db_cb, NULL);
	if (f.ev_db == NULL || event_add(f.ev_db, NULL) == -1)
		fatalx("fleet: cannot watch the database's socket");
}

/*
 * The connection is gone (or never came): what was sent fails, what
 * waits fails too (writes fail fast while the database is away), and a
 * new connection is tried after the backoff.
 */
static void
fleet_lost(const char *why)
{
	struct fjob	*j;
	char		 msg[256];

	snprintf(msg, sizeof(msg), "%s", why != NULL ? why : "");
	msg[strcspn(msg, "\n")] = '\0';
	if (f.ready)
		log_warnx("fleet: lost the database %s: %s; trying again in "
		    "%u ms", f.server, msg, f.backoff);
	else if (f.backoff == 100)	/* the first failure of a series */
		log_warnx("fleet: cannot reach the database %s: %s; trying "
		    "again every few seconds", f.server, msg);
	if (f.ev_db != NULL) {
		event_free(f.ev_db);
		f.ev_db = NULL;
	}
	if (f.db != NULL)
		PQfinish(f.db);
	f.db = NULL;
	f.ready = f.connecting = 0;
	if (f.cur != NULL) {
		fleet_job_fail(f.cur, "the token database did not confirm the "
		    "change; look again before retrying");
		f.cur = NULL;
	}
	while ((j = TAILQ_FIRST(&f.q)) != NULL) {
		TAILQ_REMOVE(&f.q, j, entry);
		fleet_job_fail(j, "the token database is unreachable; nothing "
		    "was changed");
	}
	fleet_contact(0);
	f.next_connect = clock_mono_ms() + f.backoff;
	f.backoff = f.backoff * 2 > FLEET_BACKOFF_MAX_MS ?
	    FLEET_BACKOFF_MAX_MS : f.backoff * 2;
}

static void
fleet_connected(void)
{
	const char	*host = PQhost(f.db);

	f.connecting = 0;
	f.ready = 1;
	f.backoff = 100;
	snprintf(f.server, sizeof(f.server), "%s%s%s/%s",
	    host != NULL && host[0] == '/' ? "" : (host ? host : ""),
	    host != NULL && host[0] == '/' ? "socket " : ":",
	    host != NULL && host[0] == '/' ? host : PQport(f.db), PQdb(f.db));
	if (PQsetnonblocking(f.db, 1) == -1) {
		fleet_lost("cannot make the connection non-blocking");
		return;
	}
	fleet_watch(0);
	/* LISTEN before reading anything: no change can fall between. */
	fleet_first(f.have_seq ? FJ_POLL : FJ_SNAPSHOT);
	fleet_first(FJ_SETUP);
	fleet_next();
}

static void
fleet_connect_step(void)
{
	switch (PQconnectPoll(f.db)) {
	case PGRES_POLLING_READING:
		fleet_watch(0);
		return;
	case PGRES_POLLING_WRITING:
		fleet_watch(1);
		return;
	case PGRES_POLLING_OK:
		fleet_connected();
		return;
	default:
		fleet_lost(PQerrorMessage(f.db));
		return;
	}
}

static void
fleet_connect(void)
{
	f.connecting = 1;
	if ((f.db = PQconnectStart(f.conninfo)) == NULL) {
		fleet_lost("out of memory");
		return;
	}
	if (PQstatus(f.db) == CONNECTION_BAD) {
		fleet_lost(PQerrorMessage(f.db));
		return;
	}
	snprintf(f.server, sizeof(f.server), "%s", PQdb(f.db));
	fleet_connect_step();
}

static void
fleet_notifies(void)
{
	PGnotify	*n;

	while ((n = PQnotifies(f.db)) != NULL) {
		f.poll_now = 1;
		PQfreemem(n);
	}
}

static void
fleet_db_cb(evutil_socket_t fd, short events, void *arg)
{
	struct fjob	*j;
	PGresult	*res;

	(void)fd;
	(void)arg;
	if (f.connecting) {
		fleet_connect_step();
		return;
	}
	if (events & EV_WRITE) {
		switch (PQflush(f.db)) {
		case -1:
			fleet_lost(PQerrorMessage(f.db));
			return;
		case 0:
			fleet_watch(0);
			break;
		}
		return;
	}
	if (!PQconsumeInput(f.db)) {
		fleet_lost(PQerrorMessage(f.db));
		return;
	}
	fleet_notifies();
	while (f.cur != NULL && !PQisBusy(f.db)) {
		j = f.cur;
		if ((res = PQgetResult(f.db)) == NULL) {
			f.cur = NULL;
			fleet_done(j);
			/*
			 * A failed statement inside BEGIN..COMMIT (the snapshot)
			 * leaves the session in an aborted transaction: every
			 * later statement would fail.  Start again instead.
			 */
			if (PQtransactionStatus(f.db) != PQTRANS_IDLE) {
				fleet_lost("a statement left the session in a "
				    "transaction");
				return;
			}
			break;
		}
		fleet_take(j, res);
		PQclear(res);
	}
	if (f.db != NULL && PQstatus(f.db) == CONNECTION_BAD) {
		fleet_lost(PQerrorMessage(f.db));
		return;
	}
	fleet_notifies();
	fleet_next();
}

static void
fleet_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	int64_t	now = clock_mono_ms();

	(void)fd;
	(void)events;
	(void)arg;
	if (f.cur != NULL && now >= f.deadline) {
		fleet_lost("no answer within 5 seconds");
		return;
	}
	if (f.db == NULL && f.conninfo[0] != '\0' && now >= f.next_connect)
		fleet_connect();
	else
		fleet_next();
}

/* ---- from the engine ---- */

static void
fleet_link_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint8_t		 buf[TOKEND_HDR_LEN + TOKEND_FRAME_MAX];
	struct frame_hdr	 hdr;
	struct fjob		*j;
	struct rbuf		 r;
	ssize_t			 len;
	size_t			 i;
	int			 budget = 64;

	(void)events;
	(void)arg;
	while (budget-- > 0) {
		len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (len <= 0)
			exit(0);	/* the engine is gone: so is the fleet */
		if (len < TOKEND_HDR_LEN || frame_hdr_decode(buf, &hdr) == -1 ||
		    (size_t)len != TOKEND_HDR_LEN + hdr.length)
			fatalx("fleet: a bad message from the engine");
		rbuf_init(&r, buf + TOKEND_HDR_LEN, hdr.length);
		j = NULL;
		switch (hdr.type) {
		case FL_INIT:
			rbuf_str(&r, f.conninfo, sizeof(f.conninfo));
			if (rbuf_done(&r) == -1 || f.conninfo[0] == '\0')
				fatalx("fleet: a bad FL_INIT");
			if (f.db == NULL && !f.connecting)
				fleet_connect();
			break;
		case FL_WRITE:
			j = fleet_job_new(FJ_WRITE);
			j->job = rbuf_u32(&r);
			j->optype = rbuf_u8(&r);
			j->max_per_user = rbuf_u32(&r);
			j->now = (int64_t)rbuf_u64(&r);
			j->until = (int64_t)rbuf_u64(&r);
			j->id = rbuf_u64(&r);
			j->uid = rbuf_u32(&r);
			fleet_get_record(&r, &j->rec);
			break;
		case FL_LOOKUP:
			j = fleet_job_new(FJ_LOOKUP);
			j->job = rbuf_u32(&r);
			j->id = rbuf_u64(&r);
			break;
		case FL_LAST_USED:
			j = fleet_job_new(FJ_LAST_USED);
			j->n = rbuf_u32(&r);
			if (j->n == 0 || j->n > FL_LAST_USED_MAX)
				fatalx("fleet: a bad FL_LAST_USED");
			if ((j->ids = calloc(j->n, sizeof(*j->ids))) == NULL ||
			    (j->times = calloc(j->n, sizeof(*j->times))) == NULL)
				fatal("fleet: out of memory");
			for (i = 0; i < j->n; i++) {
				j->ids[i] = rbuf_u64(&r);
				j->times[i] = (int64_t)rbuf_u64(&r);
			}
			break;
		case FL_PURGE:
			j = fleet_job_new(FJ_PURGE);
			j->now = (int64_t)rbuf_u64(&r);
			break;
		default:
			fatalx("fleet: message 0x%02x from the engine",
			    hdr.type);
		}
		explicit_bzero(buf, (size_t)len);
		if (j == NULL)
			continue;
		if (rbuf_done(&r) == -1)
			fatalx("fleet: a malformed message from the engine");
		if (!f.ready && (j->kind == FJ_LAST_USED || j->kind == FJ_PURGE)) {
			fleet_job_free(j);	/* the next flush has them */
			continue;
		}
		fleet_queue(j);
	}
}

static void
fleet_drop_privileges(const char *suid, const char *sgid)
{
	uid_t	uid = (uid_t)strtoul(suid, NULL, 10);
	gid_t	gid = (gid_t)strtoul(sgid, NULL, 10);

	if (geteuid() == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			fatal("fleet: cannot become uid %u", (unsigned)uid);
		if (setuid(0) == 0)
			fatalx("fleet: root could be regained");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("fleet: no_new_privs");
}

int
fleet_main(int argc, char **argv)
{
	struct timeval	tv = { 0, FLEET_TICK_MS * 1000 };
	char		*cause = NULL;

	helper_child_begin("tokend-fleet", SOCK_SEQPACKET);
	if (argc != 6) {
		fprintf(stderr, "tokend: this mode is for tokend's own use\n");
		_exit(2);
	}
	log_init(strcmp(argv[4], "1") == 0, strcmp(argv[5], "1") == 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	fleet_drop_privileges(argv[2], argv[3]);
	if (sandbox_fleet(&cause) == -1)
		fatalx("fleet: %s", cause != NULL ? cause : "seccomp");
	clock_init();
	TAILQ_INIT(&f.q);
	f.link = 3;
	f.backoff = 100;
	if ((f.base = event_base_new()) == NULL ||
	    (f.ev_link = event_new(f.base, f.link, EV_READ | EV_PERSIST,
	    fleet_link_cb, NULL)) == NULL ||
	    event_add(f.ev_link, NULL) == -1 ||
	    (f.ev_tick = event_new(f.base, -1, EV_PERSIST, fleet_tick_cb,
	    NULL)) == NULL || event_add(f.ev_tick, &tv) == -1)
		fatalx("fleet: cannot set up the event loop");
	event_base_dispatch(f.base);
	exit(0);
}
