/*
 * Failure rate limits: one token bucket per (kind, key).  Each failure
 * takes a token; tokens come back at a steady rate up to the burst.  An
 * empty bucket refuses the request before any work, so guessing tokens or
 * passwords stays slow whatever the attacker's concurrency.
 */
#ifndef TOKEND_RATELIMIT_H
#define TOKEND_RATELIMIT_H

#include <stdint.h>

enum rl_kind {
	RL_EXCHANGE,	/* key: caller uid */
	RL_VERIFY,	/* key: caller uid */
	RL_AUTH,	/* key: uid of the user PAM authenticates */
	RL_NKINDS
};

/* 1 when key may try again now (its bucket holds a token). */
int	 ratelimit_allowed(enum rl_kind, uint32_t key);
/* Count a failure; logs once when the bucket runs dry, not per request. */
void	 ratelimit_fail(enum rl_kind, uint32_t key);
void	 ratelimit_free(void);

#endif /* TOKEND_RATELIMIT_H */
