/* SPDX-License-Identifier: ISC */
/*
 * The answer cache (vcache.h): fixed size, no allocation after start-up.
 * A tag picks a set of VCACHE_WAYS slots, so a few tokens that land in
 * the same set do not push each other out on every request; a full set
 * gives up its slots in turn.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "vcache.h"

#define VCACHE_WAYS	4
/* Sets of answers (answer_cache_size / WAYS) and of refresh records. */
static uint32_t		 nsets, nrsets;
#define VCACHE_GENS	4096	/* a power of two */

struct slot {
	uint8_t		tag[VCACHE_TAG_BYTES];
	uint64_t	rid;		/* 0: empty (ids are never 0) */
	int64_t		until;
	int64_t		stored_last_used;
	uint32_t	gen;		/* gens[rid] when filled */
	uint32_t	epoch;		/* epoch when filled */
	uint32_t	acct;		/* the owner's account handle (account.h) */
	uint16_t	len;
	uint16_t	last_used_off;
	uint8_t		reply[VCACHE_REPLY_MAX];
};

/* A refresh record for EXCHANGE; rec.id 0: empty. */
struct rslot {
	uint8_t			tag[VCACHE_TAG_BYTES];
	uint32_t		gen;
	uint32_t		epoch;
	uint32_t		acct;
	struct token_record	rec;
};

static struct slot	*slots;
static struct rslot	*rslots;
static uint32_t		 rnd;		/* xorshift32: which way gives way */
static uint8_t		*key;		/* crypto_shorthash_siphashx24_KEYBYTES */
/* A forgotten rid bumps its counter; ids are random, so low bits hash. */
static uint32_t		 gens[VCACHE_GENS];
static uint32_t		 epoch;

int
vcache_init(uint32_t entries)
{
	if (sodium_init() < 0)
		return -1;
	/*
	 * calloc() of this size maps zero pages: memory is used as answers
	 * come, not at start.  Refresh records (EXCHANGE) are fewer: a
	 * quarter as many.
	 */
	nsets = entries / VCACHE_WAYS;
	nrsets = nsets / 4 > 256 ? nsets / 4 : 256;
	slots = calloc((size_t)nsets * VCACHE_WAYS, sizeof(*slots));
	rslots = calloc((size_t)nrsets * VCACHE_WAYS, sizeof(*rslots));
	randombytes_buf(&rnd, sizeof(rnd));
	rnd |= 1;
	key = sodium_malloc(crypto_shorthash_siphashx24_KEYBYTES);
	if (slots == NULL || rslots == NULL || key == NULL) {
		vcache_free();
		return -1;
	}
	randombytes_buf(key, crypto_shorthash_siphashx24_KEYBYTES);
	sodium_mprotect_readonly(key);
	return 0;
}

void
vcache_free(void)
{
	free(slots);
	slots = NULL;
	free(rslots);
	rslots = NULL;
	if (key != NULL)
		sodium_free(key);
	key = NULL;
}

void
vcache_tag(const char *token, size_t len, uint8_t tag[VCACHE_TAG_BYTES])
{
	if (key == NULL) {
		memset(tag, 0, VCACHE_TAG_BYTES);
		return;
	}
	crypto_shorthash_siphashx24(tag, (const unsigned char *)token, len,
	    key);
}

/*
 * A full set gives up a way chosen at random: a round-robin choice
 * would make services that check one token more than a set holds, in
 * turn, miss every time (each new answer pushing out the next one due).
 */
static unsigned
vcache_victim(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 17;
	rnd ^= rnd << 5;
	return rnd % VCACHE_WAYS;
}

static uint32_t
set_of(const uint8_t tag[VCACHE_TAG_BYTES], uint32_t count)
{
	uint32_t	h;

	memcpy(&h, tag, sizeof(h));
	return h & (count - 1);
}

static int
still_valid(uint64_t rid, int64_t until, uint32_t gen, uint32_t ep,
    int64_t now)
{
	return rid != 0 && now < until && ep == epoch &&
	    gen == gens[rid & (VCACHE_GENS - 1)];
}

/* The slot of tag in its set, or NULL. */
static struct slot *
slot_find(const uint8_t tag[VCACHE_TAG_BYTES])
{
	struct slot	*s = &slots[set_of(tag, nsets) * VCACHE_WAYS];
	int		 i;

	for (i = 0; i < VCACHE_WAYS; i++)
		if (s[i].rid != 0 && crypto_verify_16(s[i].tag, tag) == 0)
			return &s[i];
	return NULL;
}

int
vcache_get(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
    struct vcache_hit *hit)
{
	struct slot	*s;

	if (slots == NULL || key == NULL || (s = slot_find(tag)) == NULL)
		return -1;
	if (!still_valid(s->rid, s->until, s->gen, s->epoch, now)) {
		s->rid = 0;	/* stale: free the slot */
		return -1;
	}
	hit->rid = s->rid;
	hit->acct = s->acct;
	hit->stored_last_used = s->stored_last_used;
	hit->reply = s->reply;
	hit->len = s->len;
	hit->last_used_off = s->last_used_off;
	return 0;
}

void
vcache_put(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now, uint64_t rid,
    uint32_t acct, int64_t until, int64_t stored_last_used,
    const uint8_t *reply, size_t len, size_t last_used_off)
{
	struct slot	*s, *set;
	uint32_t	 n;
	int		 i;

	if (slots == NULL || key == NULL || rid == 0 ||
	    len > VCACHE_REPLY_MAX || last_used_off + 8 > len)
		return;
	if ((s = slot_find(tag)) == NULL) {
		n = set_of(tag, nsets);
		set = &slots[n * VCACHE_WAYS];
		for (i = 0; i < VCACHE_WAYS && s == NULL; i++)
			if (!still_valid(set[i].rid, set[i].until, set[i].gen,
			    set[i].epoch, now))
				s = &set[i];
		if (s == NULL)
			s = &set[vcache_victim()];
	}
	memcpy(s->tag, tag, VCACHE_TAG_BYTES);
	s->rid = rid;
	s->acct = acct;
	s->until = until;
	s->stored_last_used = stored_last_used;
	s->gen = gens[rid & (VCACHE_GENS - 1)];
	s->epoch = epoch;
	s->len = (uint16_t)len;
	s->last_used_off = (uint16_t)last_used_off;
	memcpy(s->reply, reply, len);
}

static struct rslot *
rslot_find(const uint8_t tag[VCACHE_TAG_BYTES])
{
	struct rslot	*s = &rslots[set_of(tag, nrsets) * VCACHE_WAYS];
	int		 i;

	for (i = 0; i < VCACHE_WAYS; i++)
		if (s[i].rec.id != 0 && crypto_verify_16(s[i].tag, tag) == 0)
			return &s[i];
	return NULL;
}

const struct token_record *
vcache_get_record(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
    uint32_t *acct)
{
	struct rslot	*s;

	if (rslots == NULL || key == NULL || (s = rslot_find(tag)) == NULL)
		return NULL;
	if (!still_valid(s->rec.id, s->rec.expires, s->gen, s->epoch, now)) {
		s->rec.id = 0;
		return NULL;
	}
	*acct = s->acct;
	return &s->rec;
}

void
vcache_put_record(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
    const struct token_record *rec, uint32_t acct)
{
	struct rslot	*s, *set;
	uint32_t	 n;
	int		 i;

	if (rslots == NULL || key == NULL || rec->id == 0)
		return;
	if ((s = rslot_find(tag)) == NULL) {
		n = set_of(tag, nrsets);
		set = &rslots[n * VCACHE_WAYS];
		for (i = 0; i < VCACHE_WAYS && s == NULL; i++)
			if (!still_valid(set[i].rec.id, set[i].rec.expires,
			    set[i].gen, set[i].epoch, now))
				s = &set[i];
		if (s == NULL)
			s = &set[vcache_victim()];
	}
	memcpy(s->tag, tag, VCACHE_TAG_BYTES);
	s->gen = gens[rec->id & (VCACHE_GENS - 1)];
	s->epoch = epoch;
	s->acct = acct;
	s->rec = *rec;
}

void
vcache_forget(uint64_t rid)
{
	gens[rid & (VCACHE_GENS - 1)]++;
}

void
vcache_forget_all(void)
{
	epoch++;
}
