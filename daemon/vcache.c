/*
 * The answer cache (vcache.h): direct-mapped, fixed size, no allocation
 * after start-up.  A slot holds one answer; a newer answer for the same
 * slot replaces it.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "vcache.h"

#define VCACHE_SLOTS	4096	/* a power of two */
#define VCACHE_RECORDS	1024	/* a power of two */
#define VCACHE_GENS	4096	/* a power of two */

struct slot {
	uint8_t		tag[VCACHE_TAG_BYTES];
	uint64_t	rid;		/* 0: empty (ids are never 0) */
	int64_t		until;
	int64_t		stored_last_used;
	uint32_t	gen;		/* gens[rid] when filled */
	uint32_t	epoch;		/* epoch when filled */
	uint16_t	len;
	uint16_t	last_used_off;
	uint8_t		reply[VCACHE_REPLY_MAX];
};

/* A refresh record for EXCHANGE; rec.id 0: empty. */
struct rslot {
	uint8_t			tag[VCACHE_TAG_BYTES];
	uint32_t		gen;
	uint32_t		epoch;
	struct token_record	rec;
};

static struct slot	*slots;
static struct rslot	*rslots;
static uint8_t		*key;		/* crypto_shorthash_siphashx24_KEYBYTES */
/* A forgotten rid bumps its counter; ids are random, so low bits hash. */
static uint32_t		 gens[VCACHE_GENS];
static uint32_t		 epoch;

int
vcache_init(void)
{
	if (sodium_init() < 0)
		return -1;
	slots = calloc(VCACHE_SLOTS, sizeof(*slots));
	rslots = calloc(VCACHE_RECORDS, sizeof(*rslots));
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

static struct slot *
slot_of(const uint8_t tag[VCACHE_TAG_BYTES])
{
	uint32_t	h;

	memcpy(&h, tag, sizeof(h));
	return &slots[h & (VCACHE_SLOTS - 1)];
}

int
vcache_get(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
    struct vcache_hit *hit)
{
	struct slot	*s;

	if (slots == NULL || key == NULL)
		return -1;
	s = slot_of(tag);
	if (s->rid == 0 || crypto_verify_16(s->tag, tag) != 0)
		return -1;
	if (now >= s->until || s->epoch != epoch ||
	    s->gen != gens[s->rid & (VCACHE_GENS - 1)]) {
		s->rid = 0;	/* stale: free the slot */
		return -1;
	}
	hit->rid = s->rid;
	hit->stored_last_used = s->stored_last_used;
	hit->reply = s->reply;
	hit->len = s->len;
	hit->last_used_off = s->last_used_off;
	return 0;
}

void
vcache_put(const uint8_t tag[VCACHE_TAG_BYTES], uint64_t rid, int64_t until,
    int64_t stored_last_used, const uint8_t *reply, size_t len,
    size_t last_used_off)
{
	struct slot	*s;

	if (slots == NULL || key == NULL || rid == 0 ||
	    len > VCACHE_REPLY_MAX || last_used_off + 8 > len)
		return;
	s = slot_of(tag);
	memcpy(s->tag, tag, VCACHE_TAG_BYTES);
	s->rid = rid;
	s->until = until;
	s->stored_last_used = stored_last_used;
	s->gen = gens[rid & (VCACHE_GENS - 1)];
	s->epoch = epoch;
	s->len = (uint16_t)len;
	s->last_used_off = (uint16_t)last_used_off;
	memcpy(s->reply, reply, len);
}

static struct rslot *
rslot_of(const uint8_t tag[VCACHE_TAG_BYTES])
{
	uint32_t	h;

	memcpy(&h, tag, sizeof(h));
	return &rslots[h & (VCACHE_RECORDS - 1)];
}

const struct token_record *
vcache_get_record(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now)
{
	struct rslot	*s;

	if (rslots == NULL || key == NULL)
		return NULL;
	s = rslot_of(tag);
	if (s->rec.id == 0 || crypto_verify_16(s->tag, tag) != 0)
		return NULL;
	if (now >= s->rec.expires || s->epoch != epoch ||
	    s->gen != gens[s->rec.id & (VCACHE_GENS - 1)]) {
		s->rec.id = 0;
		return NULL;
	}
	return &s->rec;
}

void
vcache_put_record(const uint8_t tag[VCACHE_TAG_BYTES],
    const struct token_record *rec)
{
	struct rslot	*s;

	if (rslots == NULL || key == NULL || rec->id == 0)
		return;
	s = rslot_of(tag);
	memcpy(s->tag, tag, VCACHE_TAG_BYTES);
	s->gen = gens[rec->id & (VCACHE_GENS - 1)];
	s->epoch = epoch;
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
