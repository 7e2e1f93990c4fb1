/* SPDX-License-Identifier: ISC */
/*
 * "Last used" times of refresh tokens, kept in memory and written to the
 * store in one transaction every last_used_flush seconds (and at exit),
 * so that EXCHANGE and VERIFY never write to disk.  A time is noted only
 * when the stored one is a minute or more old: the granularity SPEC.md
 * promises, and the reason a busy token costs one table probe at most.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fleet.h"
#include "log.h"
#include "store.h"
#include "vcache.h"
#include "writer.h"

#define LASTUSED_GRAIN	60
#define LASTUSED_MIN	1024

struct slot {
	uint64_t	id;	/* 0: empty (ids are never 0) */
	int64_t		when;	/* -1: forgotten (revoked) */
};

static struct slot	*slots;
static size_t		 cap;
static size_t		 used;

/* A batch of times on its way to the store. */
struct flush {
	struct store_op	 op;	/* first: the op's address is ours */
	uint64_t	*ids;	/* sorted, for lastused_get() meanwhile */
	int64_t		*times;
};

/*
 * The batch being written: until it is durable its times are neither in
 * the table nor in the store, so lastused_get() looks here too.  One at a
 * time; a flush due meanwhile waits for the next turn.
 */
static struct flush	*inflight;

static int
id_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
lastused_init(void)
{
	cap = LASTUSED_MIN;
	used = 0;
	if ((slots = calloc(cap, sizeof(*slots))) == NULL)
		return -1;
	return 0;
}

/* Ids are random, so their low bits are a fine hash. */
static struct slot *
lastused_find(uint64_t id, int insert)
{
	size_t	i;

	for (i = id & (cap - 1);; i = (i + 1) & (cap - 1)) {
		if (slots[i].id == id)
			return &slots[i];
		if (slots[i].id == 0)
			break;
	}
	if (!insert)
		return NULL;
	slots[i].id = id;
	slots[i].when = 0;
	used++;
	return &slots[i];
}

static int
lastused_grow(void)
{
	struct slot	*old = slots, *s;
	size_t		 oldcap = cap, i;

	if ((slots = calloc(cap * 2, sizeof(*slots))) == NULL) {
		slots = old;
		return -1;
	}
	cap *= 2;
	used = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i].id != 0) {
			s = lastused_find(old[i].id, 1);
			s->when = old[i].when;
		}
	free(old);
	return 0;
}

void
lastused_note(uint64_t id, int64_t now, int64_t stored)
{
	struct slot	*s;

	if (now - stored < LASTUSED_GRAIN || slots == NULL)
		return;
	if ((s = lastused_find(id, 0)) != NULL) {
		if (s->when >= 0 && now - s->when >= LASTUSED_GRAIN)
			s->when = now;
		return;
	}
	if (used * 2 >= cap && lastused_grow() == -1) {
		lastused_flush();	/* no memory: write now instead */
		if (used * 2 >= cap)
			return;
	}
	lastused_find(id, 1)->when = now;
}

int64_t
lastused_get(uint64_t id, int64_t stored)
{
	struct slot	*s;
	uint64_t	*p;

	if (slots != NULL && (s = lastused_find(id, 0)) != NULL)
		return s->when > stored ? s->when : stored;
	if (inflight != NULL && (p = bsearch(&id, inflight->ids,
	    inflight->op.n, sizeof(*p), id_cmp)) != NULL &&
	    inflight->times[p - inflight->ids] > stored)
		return inflight->times[p - inflight->ids];
	return stored;
}

void
lastused_forget(uint64_t id)
{
	struct slot	*s;

	if (slots != NULL && (s = lastused_find(id, 0)) != NULL)
		s->when = -1;
}

static void
flush_done(struct store_op *op)
{
	struct flush	*f = (struct flush *)op;
	struct slot	*s;
	size_t		 i;

	inflight = NULL;
	if (op->result == STORE_OK) {
		/* Cached answers hold the stored times of before this write. */
		vcache_forget_all();
		log_debug("saved last-used times of %zu token%s", op->n,
		    op->n == 1 ? "" : "s");
	} else {
		/* Keep the times in memory: the next flush tries again. */
		log_warnx("cannot save last-used times: %s",
		    op->cause ? op->cause : "store error");
		for (i = 0; i < op->n && slots != NULL; i++) {
			if (used * 2 >= cap && lastused_grow() == -1)
				break;
			s = lastused_find(f->ids[i], 1);
			if (s->when >= 0 && s->when < f->times[i])
				s->when = f->times[i];
		}
	}
	free(op->cause);
	free(f->ids);
	free(f->times);
	free(f);
}

/* Hand the noted times to the writer thread and start afresh. */
void
lastused_flush(void)
{
	struct flush	*f;
	size_t		 i, n = 0;

	if (slots == NULL || used == 0 || inflight != NULL)
		return;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->ids = calloc(used, sizeof(*f->ids))) == NULL ||
	    (f->times = calloc(used, sizeof(*f->times))) == NULL) {
		log_warnx("last-used flush: out of memory");
		if (f != NULL)
			free(f->ids);
		free(f);
		return;
	}
	/* Live slots to the front, sorted by id, then split in two arrays. */
	for (i = 0; i < cap; i++)
		if (slots[i].id != 0 && slots[i].when > 0)
			slots[n++] = slots[i];
	qsort(slots, n, sizeof(*slots), id_cmp);	/* id is the first member */
	for (i = 0; i < n; i++) {
		f->ids[i] = slots[i].id;
		f->times[i] = slots[i].when;
	}
	memset(slots, 0, cap * sizeof(*slots));
	used = 0;
	if (n == 0) {
		free(f->ids);
		free(f->times);
		free(f);
		return;
	}
	f->op.type = STORE_OP_LAST_USED;
	f->op.ids = f->ids;
	f->op.times = f->times;
	f->op.n = n;
	f->op.done = flush_done;
	inflight = f;
	fleetlink_last_used(f->ids, f->times, n);	/* fleet: merged there */
	writer_submit(&f->op);
}

void
lastused_free(void)
{
	free(slots);
	slots = NULL;
	cap = used = 0;
}
