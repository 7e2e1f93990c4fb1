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
#include "log.h"
#include "store.h"
#include "vcache.h"

#define LASTUSED_GRAIN	60
#define LASTUSED_MIN	1024

struct slot {
	uint64_t	id;	/* 0: empty (ids are never 0) */
	int64_t		when;	/* -1: forgotten (revoked) */
};

static struct slot	*slots;
static size_t		 cap;
static size_t		 used;

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

	if (slots == NULL || (s = lastused_find(id, 0)) == NULL)
		return stored;
	return s->when > stored ? s->when : stored;
}

void
lastused_forget(uint64_t id)
{
	struct slot	*s;

	if (slots != NULL && (s = lastused_find(id, 0)) != NULL)
		s->when = -1;
}

void
lastused_flush(void)
{
	uint64_t	*ids;
	int64_t		*times;
	char		*cause = NULL;
	size_t		 i, n = 0;

	if (slots == NULL || used == 0)
		return;
	ids = calloc(used, sizeof(*ids));
	times = calloc(used, sizeof(*times));
	if (ids == NULL || times == NULL) {
		log_warnx("last-used flush: out of memory");
		goto done;
	}
	for (i = 0; i < cap; i++)
		if (slots[i].id != 0 && slots[i].when > 0) {
			ids[n] = slots[i].id;
			times[n++] = slots[i].when;
		}
	if (n > 0 && store_set_last_used(td->store, ids, times, n, &cause) !=
	    STORE_OK) {
		/* Keep the times in memory: the next flush tries again. */
		log_warnx("cannot save last-used times: %s",
		    cause ? cause : "store error");
		free(cause);
		goto done;
	}
	memset(slots, 0, cap * sizeof(*slots));
	used = 0;
	/* Cached answers hold the stored times of before this write. */
	vcache_forget_all();
	log_debug("saved last-used times of %zu tokens", n);
done:
	free(ids);
	free(times);
}

void
lastused_free(void)
{
	free(slots);
	slots = NULL;
	cap = used = 0;
}
