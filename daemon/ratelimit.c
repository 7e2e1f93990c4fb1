/* SPDX-License-Identifier: ISC */
/*
 * Token buckets for failures (ratelimit.h).  The table is small and
 * fixed: only keys that failed recently are in it, and a bucket that has
 * refilled completely is as good as absent, so its slot is reused.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "ratelimit.h"

#define RL_SLOTS	4096		/* per kind; a power of two */
#define RL_PROBE	32		/* slots looked at per key */

struct bucket {
	uint32_t	key;
	int		used;
	int		dry;		/* below one token: refusing */
	int		logged;		/* this dry spell was logged */
	double		tokens;
	int64_t		stamp_ms;	/* when tokens was last brought up to date */
};

static struct bucket	*tables[RL_NKINDS];
/* Dry buckets per kind: none is the common case, and needs no look-up. */
static unsigned		 ndry[RL_NKINDS];

static const char *const kind_names[RL_NKINDS] = {
	"failed exchanges by uid", "failed authentications of uid",
};

static void
limits(enum rl_kind kind, double *burst, double *per_ms)
{
	unsigned	b = 0, r = 1;

	switch (kind) {
	case RL_EXCHANGE:
		b = td->conf.exchange_fail_burst;
		r = td->conf.exchange_fail_per_minute;
		break;
	case RL_AUTH:
		b = td->conf.auth_fail_burst;
		r = td->conf.auth_fail_per_minute;
		break;
	case RL_NKINDS:
		break;
	}
	*burst = b;
	*per_ms = r / 60000.0;
}

/* Bring a bucket up to date; 1 when it is full again (slot reusable). */
static int
refill(enum rl_kind kind, struct bucket *b, double burst, double per_ms,
    int64_t now)
{
	b->tokens += (double)(now - b->stamp_ms) * per_ms;
	b->stamp_ms = now;
	if (b->tokens >= 1 && b->dry) {
		b->dry = 0;
		b->logged = 0;
		ndry[kind]--;
	}
	if (b->tokens >= burst) {
		b->tokens = burst;
		return 1;
	}
	return 0;
}

static struct bucket *
lookup(enum rl_kind kind, uint32_t key, int create, double burst,
    double per_ms)
{
	struct bucket	*t, *b, *spare = NULL;
	int64_t		 now = clock_mono_ms();
	unsigned	 i, h = (key * 2654435761u) & (RL_SLOTS - 1);

	if (tables[kind] == NULL &&
	    (tables[kind] = calloc(RL_SLOTS, sizeof(struct bucket))) == NULL)
		return NULL;
	t = tables[kind];
	for (i = 0; i < RL_PROBE; i++) {
		b = &t[(h + i) & (RL_SLOTS - 1)];
		if (b->used && b->key == key) {
			refill(kind, b, burst, per_ms, now);
			return b;
		}
		if (spare == NULL && (!b->used || refill(kind, b, burst, per_ms, now)))
			spare = b;
	}
	if (!create || spare == NULL)
		return NULL;	/* no room: the key is treated as fresh */
	memset(spare, 0, sizeof(*spare));
	spare->used = 1;
	spare->key = key;
	spare->tokens = burst;
	spare->stamp_ms = now;
	return spare;
}

/* Once per dry spell: say that key is being refused, and until when. */
static void
refusing(enum rl_kind kind, struct bucket *b, double burst, double per_ms)
{
	if (b->logged)
		return;
	b->logged = 1;
	log_warnx("rate limit: %s %u reached %.0f; refusing until the bucket "
	    "refills (%.0f per minute)", kind_names[kind], (unsigned)b->key,
	    burst, per_ms * 60000);
}

int
ratelimit_allowed(enum rl_kind kind, uint32_t key)
{
	struct bucket	*b;
	double		 burst, per_ms;

	if (ndry[kind] == 0)
		return 1;	/* every bucket holds a token */
	limits(kind, &burst, &per_ms);
	if (burst == 0)
		return 1;
	if ((b = lookup(kind, key, 0, burst, per_ms)) == NULL)
		return 1;
	if (b->tokens >= 1)
		return 1;
	refusing(kind, b, burst, per_ms);
	return 0;
}

int
ratelimit_clear(enum rl_kind kind, uint32_t key)
{
	struct bucket	*b;
	double		 burst, per_ms;
	int		 was;

	limits(kind, &burst, &per_ms);
	if (burst == 0 || (b = lookup(kind, key, 0, burst, per_ms)) == NULL)
		return 0;
	was = b->tokens < 1;
	b->tokens = burst;
	if (b->dry) {
		b->dry = 0;
		b->logged = 0;
		ndry[kind]--;
	}
	return was;
}

int64_t
ratelimit_wait(enum rl_kind kind, uint32_t key)
{
	struct bucket	*b;
	double		 burst, per_ms, ms;

	limits(kind, &burst, &per_ms);
	if (burst == 0 || per_ms <= 0 ||
	    (b = lookup(kind, key, 0, burst, per_ms)) == NULL || b->tokens >= 1)
		return 0;
	ms = (1 - b->tokens) / per_ms;
	return (int64_t)(ms / 1000) + 1;
}

void
ratelimit_fail(enum rl_kind kind, uint32_t key)
{
	struct bucket	*b;
	double		 burst, per_ms;

	limits(kind, &burst, &per_ms);
	if (burst == 0 || (b = lookup(kind, key, 1, burst, per_ms)) == NULL)
		return;
	if (b->tokens >= 1)
		b->tokens -= 1;
	if (b->tokens < 1 && !b->dry) {
		b->dry = 1;
		ndry[kind]++;
	}
}

int
ratelimit_take(enum rl_kind kind, uint32_t key)
{
	struct bucket	*b;
	double		 burst, per_ms;

	limits(kind, &burst, &per_ms);
	if (burst == 0 || (b = lookup(kind, key, 1, burst, per_ms)) == NULL)
		return 1;
	if (b->tokens < 1) {
		refusing(kind, b, burst, per_ms);
		return 0;
	}
	ratelimit_fail(kind, key);
	return 1;
}

void
ratelimit_refund(enum rl_kind kind, uint32_t key)
{
	struct bucket	*b;
	double		 burst, per_ms;

	limits(kind, &burst, &per_ms);
	if (burst == 0 || (b = lookup(kind, key, 0, burst, per_ms)) == NULL)
		return;
	b->tokens += 1;
	if (b->tokens > burst)
		b->tokens = burst;
	if (b->tokens >= 1 && b->dry) {
		b->dry = 0;
		b->logged = 0;
		ndry[kind]--;
	}
}

void
ratelimit_free(void)
{
	int	k;

	for (k = 0; k < RL_NKINDS; k++) {
		free(tables[k]);
		tables[k] = NULL;
		ndry[k] = 0;
	}
}
