/* SPDX-License-Identifier: ISC */
/*
 * The answer cache: recent positive VERIFY answers, so that a service
 * checking the same bearer token on every request it serves costs one
 * short keyed hash and a copy, not a parse, a BLAKE2b MAC, an LMDB read
 * and an encode.
 *
 * An entry is found by SipHash-128 of the token's text under a key drawn
 * at start-up (the token itself is never kept), compared in constant
 * time.  Only answers that passed every check are cached, and each keeps
 * them valid only while:
 *   - now is before the token's expiry (the access token's or the
 *     refresh record's, whichever comes first);
 *   - its refresh id has not been forgotten since (a REVOKE calls
 *     vcache_forget(rid) before it answers);
 *   - nothing was forgotten wholesale (REVOKE_ALL, a saved batch of
 *     last-used times: vcache_forget_all()).
 * So a revoke is seen by the very next VERIFY, as without the cache.
 *
 * EXCHANGE has a table of its own, on the same terms: the refresh record
 * behind a refresh token that was checked in full (checksum, keyed hash,
 * record), so a service exchanging the same refresh token again skips
 * the parse, the BLAKE2b and the LMDB read; minting is left.
 */
#ifndef TOKEND_VCACHE_H
#define TOKEND_VCACHE_H

#include <stddef.h>
#include <stdint.h>

#define VCACHE_TAG_BYTES	16
#define VCACHE_REPLY_MAX	400	/* longer answers are not cached */

struct token_record;

struct vcache_hit {
	uint64_t	 rid;
	uint32_t	 acct;			/* the owner's account handle */
	int64_t		 stored_last_used;	/* the record's, when cached */
	const uint8_t	*reply;			/* a whole VERIFY_RESULT frame */
	size_t		 len;
	size_t		 last_used_off;		/* where last_used sits in it */
};

/* entries: answer_cache_size, a power of two from 1024. */
int	 vcache_init(uint32_t entries);
void	 vcache_free(void);
/* The tag of a token's text, for vcache_get() and vcache_put(). */
void	 vcache_tag(const char *token, size_t len,
	     uint8_t tag[VCACHE_TAG_BYTES]);
/* 0 and *hit filled when an answer for tag is cached and still valid. */
int	 vcache_get(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
	     struct vcache_hit *hit);
/*
 * Keep a positive answer, valid until `until` (exclusive).  reply/len is
 * the whole VERIFY_RESULT frame; last_used_off the offset of its
 * last_used field.  acct is the owner's account handle (account.h): an
 * answer is given again only while the account is usable, checked on
 * every hit.
 */
void	 vcache_put(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
	     uint64_t rid, uint32_t acct, int64_t until,
	     int64_t stored_last_used, const uint8_t *reply, size_t len,
	     size_t last_used_off);
/* The refresh record cached for tag, valid now, and its *acct; NULL when none. */
const struct token_record *vcache_get_record(
	     const uint8_t tag[VCACHE_TAG_BYTES], int64_t now, uint32_t *acct);
/* Keep rec (a refresh record that passed every check) until rec->expires. */
void	 vcache_put_record(const uint8_t tag[VCACHE_TAG_BYTES], int64_t now,
	     const struct token_record *rec, uint32_t acct);
void	 vcache_forget(uint64_t rid);
void	 vcache_forget_all(void);

#endif /* TOKEND_VCACHE_H */
