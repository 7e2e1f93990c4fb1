/* SPDX-License-Identifier: ISC */
/*
 * Fleet mode, the engine's side (fleet.h): writes go to the fleet
 * process first and to the host's copy once the database committed;
 * changes from other hosts come back and are applied to the copy; the
 * time of the last contact decides whether the host may vouch for a
 * token at all.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "conn.h"
#include "daemon.h"
#include "fleet.h"
#include "log.h"
#include "monitor.h"
#include "vcache.h"
#include "writer.h"

#define FLINK_LOOKUPS_MAX	32	/* first-sight look-ups out at once */
#define FLINK_RECENT		64	/* ids looked up lately, not again */
#define FLINK_RECENT_MS		2000
#define FLINK_BATCH		256	/* records per write to the copy */
#define FLINK_BUDGET		256	/* messages read per pass of the loop */
#define FLINK_CHECK_MS		200	/* staleness looked at this often */

/* A write sent to the database, until its FL_RESULT. */
struct flwrite {
	TAILQ_ENTRY(flwrite)	 entry;
	uint32_t		 job;
	struct store_op		*op;
};

/* Changes for the copy, written together. */
struct flbatch {
	struct store_op		 op;		/* first */
	struct token_record	*recs;
	uint64_t		*dels;
	size_t			 nrecs, ndels;
	int			 lookup;	/* wake look-ups when written */
};

static struct {
	int			 fd;
	struct event		*ev;
	struct channel_out	 out;
	TAILQ_HEAD(, flwrite)	 writes;
	uint32_t		 last_job;
	int			 connected;
	int64_t			 contact;	/* clock_now() of the last, 0: never */
	int64_t			 contact_mono;	/* clock_mono_ms() of the same */
	int			 contact_due;	/* stamp when the copy caught up */
	unsigned		 inflight;	/* batches given to the writer */
	int			 broken;	/* the copy failed to take a change */
	int			 stale;		/* may not vouch for tokens now */
	struct event		*ev_check;
	uint64_t		 seq;
	char			 server[128];
	unsigned		 lookups;
	struct {
		uint64_t	 id;
		int64_t		 at;
	}			 recent[FLINK_RECENT];
	unsigned		 recent_next;
	/* a snapshot under way: every id it named */
	int			 snapshot;
	uint64_t		*snap_ids;
	size_t			 snap_n, snap_cap;
	struct flbatch		*batch;		/* changes not yet handed over */
} fl = { .stale = 1 };	/* vouching starts with the first contact */

static void	flink_batch_flush(void);
static void	flink_stamp(void);
static void	flink_check(void);

/* The store is chosen at start (a reload does not change it). */
int
fleetlink_on(void)
{
	static int	on = -1;

	if (on == -1)
		on = strcmp(td->conf.store, "postgresql") == 0;
	return on;
}

int
fleetlink_connected(void)
{
	return fl.connected;
}

/*
 * VERIFY and EXCHANGE ask on every request: a flag, kept by the contact
 * itself and by a timer (FLINK_CHECK_MS), costs them no clock reading.
 */
int
fleetlink_stale(void)
{
	return fleetlink_on() && fl.stale;
}

/*
 * Too long without contact, by either clock: the wall clock (which the
 * tests move) or the monotonic one (which a clock set back cannot fool).
 */
static void
flink_check(void)
{
	int64_t	max = (int64_t)td->conf.fleet_max_staleness;

	fl.stale = fl.broken || fl.contact == 0 ||
	    clock_now() - fl.contact > max ||
	    clock_mono_ms() - fl.contact_mono > max * 1000;
}

static void
flink_check_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	flink_check();
}

static void
flink_stamp(void)
{
	fl.contact = clock_now();
	fl.contact_mono = clock_mono_ms();
	flink_check();
}

int64_t
fleetlink_age(void)
{
	return fl.contact == 0 ? -1 : clock_now() - fl.contact;
}

const char *
fleetlink_server(void)
{
	return fl.server;
}

uint64_t
fleetlink_seq(void)
{
	return fl.seq;
}

static void
flink_gone(void)
{
	fatalx("fleet: the fleet process is gone");
}

static void
flink_send(struct wbuf *w)
{
	if (w->failed)
		fatalx("fleet: a message does not fit");
	(void)channel_out_send(&fl.out, w);
	wbuf_reset(w);
}

/* ---- the host's copy ---- */

static void
flink_batch_done(struct store_op *op)
{
	struct flbatch	*b = (struct flbatch *)op;
	size_t		 i;

	if (op->result != STORE_OK && !fl.broken) {
		log_warnx("fleet: cannot update this host's copy: %s; it "
		    "vouches for no token until tokend is restarted",
		    op->cause != NULL ? op->cause : "?");
		fl.broken = 1;
		flink_check();
	}
	if (--fl.inflight == 0 && fl.contact_due) {
		fl.contact_due = 0;
		flink_stamp();
	}
	for (i = 0; i < b->ndels; i++) {
		lastused_forget(b->dels[i]);
		vcache_forget(b->dels[i]);
	}
	for (i = 0; i < b->nrecs; i++)
		vcache_forget(b->recs[i].id);
	if (b->lookup)
		conn_wake_lookups();
	free(op->cause);
	explicit_bzero(b->recs, b->nrecs * sizeof(*b->recs));
	free(b->recs);
	free(b->dels);
	free(b);
}

static struct flbatch *
flink_batch(void)
{
	struct flbatch	*b;

	if (fl.batch != NULL)
		return fl.batch;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->recs = calloc(FLINK_BATCH, sizeof(*b->recs))) == NULL ||
	    (b->dels = calloc(FLINK_BATCH, sizeof(*b->dels))) == NULL)
		fatalx("fleet: out of memory");
	b->op.type = STORE_OP_MIRROR;
	b->op.done = flink_batch_done;
	fl.batch = b;
	return b;
}

static void
flink_batch_flush(void)
{
	struct flbatch	*b = fl.batch;

	if (b == NULL)
		return;
	fl.batch = NULL;
	b->op.recs = b->recs;
	b->op.nrecs = b->nrecs;
	b->op.ids = b->dels;
	b->op.n = b->ndels;
	fl.inflight++;
	writer_submit(&b->op);
}

static void
flink_put(const struct token_record *rec)
{
	struct flbatch	*b = flink_batch();

	b->recs[b->nrecs++] = *rec;
	if (b->nrecs == FLINK_BATCH)
		flink_batch_flush();
}

static void
flink_del(uint64_t id)
{
	struct flbatch	*b = flink_batch();

	b->dels[b->ndels++] = id;
	if (b->ndels == FLINK_BATCH)
		flink_batch_flush();
}

static int
flink_id_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
flink_stale_cb(const struct token_record *r, void *arg)
{
	(void)arg;
	if (fl.snap_n == 0 || bsearch(&r->id, fl.snap_ids, fl.snap_n,
	    sizeof(*fl.snap_ids), flink_id_cmp) == NULL)
		flink_del(r->id);
	return 0;
}

/* The snapshot is whole: what the copy has beyond it is gone. */
static void
flink_snapshot_end(void)
{
	if (fl.snap_n > 0)	/* (an empty database: no array at all) */
		qsort(fl.snap_ids, fl.snap_n, sizeof(*fl.snap_ids),
		    flink_id_cmp);
	if (store_list(td->store, 1, 0, 0, flink_stale_cb, NULL) != STORE_OK)
		log_warnx("fleet: cannot read this host's copy to reconcile it");
	flink_batch_flush();
	vcache_forget_all();
	free(fl.snap_ids);
	fl.snap_ids = NULL;
	fl.snap_n = fl.snap_cap = 0;
	fl.snapshot = 0;
}

static void
flink_snap_add(uint64_t id)
{
	uint64_t	*v;

	if (fl.snap_n == fl.snap_cap) {
		fl.snap_cap = fl.snap_cap ? fl.snap_cap * 2 : 1024;
		if ((v = reallocarray(fl.snap_ids, fl.snap_cap,
		    sizeof(*v))) == NULL)
			fatalx("fleet: out of memory");
		fl.snap_ids = v;
	}
	fl.snap_ids[fl.snap_n++] = id;
}

/* ---- writes ---- */

static struct flwrite *
flink_write_of(uint32_t job)
{
	struct flwrite	*w;

	TAILQ_FOREACH(w, &fl.writes, entry)
		if (w->job == job)
			return w;
	return NULL;
}

void
fleetlink_submit(struct store_op *op)
{
	struct flwrite	*fw;
	struct wbuf	 w;
	size_t		 off;

	if (!fl.connected) {
		op->result = STORE_UNAVAIL;
		op->cause = strdup("the token database is unreachable; nothing "
		    "was changed");
		op->done(op);
		return;
	}
	if ((fw = calloc(1, sizeof(*fw))) == NULL)
		fatalx("fleet: out of memory");
	if (++fl.last_job == 0)
		fl.last_job = 1;
	fw->job = fl.last_job;
	fw->op = op;
	TAILQ_INSERT_TAIL(&fl.writes, fw, entry);
	wbuf_init(&w);
	off = frame_begin(&w, FL_WRITE);
	wbuf_u32(&w, fw->job);
	wbuf_u8(&w, (uint8_t)op->type);
	wbuf_u32(&w, op->max_per_user);
	wbuf_u64(&w, (uint64_t)op->now);
	wbuf_u64(&w, (uint64_t)op->until);
	wbuf_u64(&w, op->id);
	wbuf_u32(&w, op->uid);
	fleet_put_record(&w, &op->rec);
	frame_end(&w, off);
	flink_send(&w);
	wbuf_free(&w);
}

static void
flink_result(struct rbuf *r)
{
	struct flwrite		*fw;
	struct store_op		*op;
	struct token_record	 rec;
	char			 cause[TOKEND_ERRMSG_MAX + 1];
	uint32_t		 job, count;
	int			 result, has;

	job = rbuf_u32(r);
	result = -(int)rbuf_u8(r);
	count = rbuf_u32(r);
	rbuf_str(r, cause, sizeof(cause));
	has = rbuf_u8(r);
	if (has)
		fleet_get_record(r, &rec);
	if (rbuf_done(r) == -1 || (fw = flink_write_of(job)) == NULL)
		fatalx("fleet: a bad FL_RESULT");
	TAILQ_REMOVE(&fl.writes, fw, entry);
	op = fw->op;
	free(fw);
	if (result != STORE_OK) {
		op->result = result;
		op->cause = strdup(cause);
		op->done(op);
		return;
	}
	/*
	 * Committed.  The copy gets the change now (the log brings it back
	 * later too, which changes nothing); the caller hears once it has.
	 */
	/*
	 * Rotations are made on the copy by the store's own code, from the
	 * same chain the database has: what it changes (the successor, the
	 * old token's overlap, a predecessor trimmed) is what the rotation's
	 * answer needs, and the log brings the database's rows anyway.
	 */
	if (op->type == STORE_OP_ROTATE || op->type == STORE_OP_UNROTATE ||
	    op->type == STORE_OP_DEL_CHAIN) {
		op->mirror = 0;
		flink_batch_flush();
		writer_submit(op);
		return;
	}
	if (has)
		op->rec = rec;
	op->db_count = count;
	op->mirror = 1;
	/* What the log said before this answer goes to the copy first. */
	flink_batch_flush();
	writer_submit(op);
}

/* ---- look-ups ---- */

int
fleetlink_lookup(uint64_t id)
{
	struct wbuf	w;
	size_t		off;
	int64_t		now = clock_mono_ms();
	unsigned	i;

	if (!fl.connected || fl.lookups >= FLINK_LOOKUPS_MAX)
		return 0;
	for (i = 0; i < FLINK_RECENT; i++)
		if (fl.recent[i].id == id && now - fl.recent[i].at <
		    FLINK_RECENT_MS)
			return 0;
	fl.recent[fl.recent_next].id = id;
	fl.recent[fl.recent_next].at = now;
	fl.recent_next = (fl.recent_next + 1) % FLINK_RECENT;
	fl.lookups++;
	wbuf_init(&w);
	off = frame_begin(&w, FL_LOOKUP);
	wbuf_u32(&w, 0);
	wbuf_u64(&w, id);
	frame_end(&w, off);
	flink_send(&w);
	wbuf_free(&w);
	return 1;
}

static void
flink_found(struct rbuf *r)
{
	struct token_record	rec;
	int			found;

	(void)rbuf_u32(r);
	found = rbuf_u8(r);
	if (found)
		fleet_get_record(r, &rec);
	if (rbuf_done(r) == -1 || fl.lookups == 0)
		fatalx("fleet: a bad FL_FOUND");
	fl.lookups--;
	if (!found) {
		conn_wake_lookups();
		return;
	}
	flink_put(&rec);
	fl.batch->lookup = 1;
	flink_batch_flush();
	explicit_bzero(&rec, sizeof(rec));
}

void
fleetlink_last_used(const uint64_t *ids, const int64_t *times, size_t n)
{
	struct wbuf	w;
	size_t		off, i, k;

	if (!fl.connected)	/* (never before the link exists) */
		return;
	wbuf_init(&w);
	for (i = 0; i < n; i += k) {
		k = n - i > FL_LAST_USED_MAX ? FL_LAST_USED_MAX : n - i;
		off = frame_begin(&w, FL_LAST_USED);
		wbuf_u32(&w, (uint32_t)k);
		for (size_t j = 0; j < k; j++) {
			wbuf_u64(&w, ids[i + j]);
			wbuf_u64(&w, (uint64_t)times[i + j]);
		}
		frame_end(&w, off);
		flink_send(&w);
	}
	wbuf_free(&w);
}

void
fleetlink_purge(int64_t now)
{
	struct wbuf	w;
	size_t		off;

	if (!fl.connected)	/* (never before the link exists) */
		return;
	wbuf_init(&w);
	off = frame_begin(&w, FL_PURGE);
	wbuf_u64(&w, (uint64_t)now);
	frame_end(&w, off);
	flink_send(&w);
	wbuf_free(&w);
}

/* ---- what the fleet process says ---- */

static void
flink_message(int type, const uint8_t *body, size_t len)
{
	struct token_record	rec;
	struct rbuf		r;
	uint64_t		id;
	int			kind, connected;

	rbuf_init(&r, body, len);
	switch (type) {
	case FL_RESULT:
		flink_result(&r);
		return;
	case FL_FOUND:
		flink_found(&r);
		return;
	case FL_CHANGE:
		kind = rbuf_u8(&r);
		id = rbuf_u64(&r);
		if (kind == FL_CHANGE_PUT)
			fleet_get_record(&r, &rec);
		if (rbuf_done(&r) == -1 || (kind != FL_CHANGE_PUT &&
		    kind != FL_CHANGE_DEL) || (kind == FL_CHANGE_PUT &&
		    rec.id != id))
			fatalx("fleet: a bad FL_CHANGE");
		if (fl.snapshot)
			flink_snap_add(id);
		if (kind == FL_CHANGE_PUT) {
			flink_put(&rec);
			explicit_bzero(&rec, sizeof(rec));
		} else {
			/* Revoked elsewhere: no answer from a cache from now. */
			vcache_forget(id);
			flink_del(id);
		}
		return;
	case FL_SNAPSHOT:
		kind = rbuf_u8(&r);
		if (rbuf_done(&r) == -1 || (kind != 1 && kind != 2))
			fatalx("fleet: a bad FL_SNAPSHOT");
		if (kind == 1) {
			fl.snapshot = 1;
			fl.snap_n = 0;
		} else if (fl.snapshot)
			flink_snapshot_end();
		return;
	case FL_CONTACT:
		connected = rbuf_u8(&r);
		fl.seq = rbuf_u64(&r);
		rbuf_str(&r, fl.server, sizeof(fl.server));
		if (rbuf_done(&r) == -1 || connected > 1)
			fatalx("fleet: a bad FL_CONTACT");
		if (connected && !fl.connected)
			log_info("fleet: in touch with %s", fl.server);
		fl.connected = connected;
		/*
		 * Contact: the fleet process has read every change up to now.
		 * It counts once the copy has them too (the batches sent
		 * before this message are written).
		 */
		if (connected && !fl.snapshot) {
			flink_batch_flush();
			if (fl.inflight == 0)
				flink_stamp();
			else
				fl.contact_due = 1;
		}
		return;
	}
	fatalx("fleet: message 0x%02x from the fleet process", type);
}

static void
flink_read_cb(evutil_socket_t fd, short events, void *arg)
{
	static uint8_t		 buf[MON_MSG_MAX];
	struct frame_hdr	 hdr;
	const uint8_t		*body;
	const char		*why;
	int			 rc, passed, budget = FLINK_BUDGET;

	(void)events;
	(void)arg;
	while (budget-- > 0) {
		rc = channel_recv(fd, buf, &fleet_to_engine, &hdr, &body,
		    &passed, &why);
		if (rc == 0)
			break;
		if (rc == -1)
			flink_gone();
		if (rc == -2)
			fatalx("fleet: a bad message: %s", why);
		if (passed != -1)
			fatalx("fleet: a descriptor came from the fleet process");
		flink_message(hdr.type, body, hdr.length);
		explicit_bzero(buf, TOKEND_HDR_LEN + hdr.length);
	}
	/* Changes of this pass go to the copy together. */
	flink_batch_flush();
}

int
fleetlink_start(struct event_base *base, int fd, const char *conninfo)
{
	struct wbuf	w;
	size_t		off;

	struct timeval	tv = { 0, FLINK_CHECK_MS * 1000 };

	TAILQ_INIT(&fl.writes);
	fl.fd = fd;
	fl.stale = 1;
	if ((fl.ev_check = event_new(base, -1, EV_PERSIST, flink_check_cb,
	    NULL)) == NULL || event_add(fl.ev_check, &tv) == -1 ||
	    channel_out_init(&fl.out, base, fd, flink_gone) == -1 ||
	    (fl.ev = event_new(base, fd, EV_READ | EV_PERSIST, flink_read_cb,
	    NULL)) == NULL || event_add(fl.ev, NULL) == -1)
		return -1;
	wbuf_init(&w);
	off = frame_begin(&w, FL_INIT);
	wbuf_str(&w, conninfo);
	frame_end(&w, off);
	flink_send(&w);
	wbuf_free(&w);
	return 0;
}
