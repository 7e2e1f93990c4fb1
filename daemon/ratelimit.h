/* SPDX-License-Identifier: ISC */
/*
 * Failure rate limits: one token bucket per (kind, key).  Each failure
 * takes a token; tokens come back at a steady rate up to the burst.  An
 * empty bucket refuses the request before any work, so guessing refresh
 * tokens or passwords stays slow whatever the attacker's concurrency.
 *
 * A password is guessed inside a PAM transaction that may take a long
 * time to fail, so for those the token is taken when the transaction
 * starts (ratelimit_take) and given back when it succeeds
 * (ratelimit_refund): many transactions started at once cannot each
 * find the bucket full.
 *
 * VERIFY has no such limit on purpose: its callers are services that
 * pass on tokens they received from others, so a limit keyed on the
 * caller would let anybody who can reach such a service lock it out,
 * valid tokens and all; and no number of guesses finds a 192-bit secret.
 */
#ifndef TOKEND_RATELIMIT_H
#define TOKEND_RATELIMIT_H

#include <stdint.h>

enum rl_kind {
	RL_EXCHANGE,	/* key: caller uid */
	RL_AUTH,	/* key: uid of the user PAM authenticates */
	RL_NKINDS
};

/* 1 when key may try again now (its bucket holds a token). */
int	 ratelimit_allowed(enum rl_kind, uint32_t key);
/* Count a failure; logs once when the bucket runs dry, not per request. */
void	 ratelimit_fail(enum rl_kind, uint32_t key);
/* Take a token before trying: 1 when there was one, 0 (nothing taken) if dry. */
int	 ratelimit_take(enum rl_kind, uint32_t key);
/* Give back a token taken by ratelimit_take() for a try that succeeded. */
void	 ratelimit_refund(enum rl_kind, uint32_t key);
/* Fill key's bucket (an admin's unlock); 1 when it was refusing. */
int	 ratelimit_clear(enum rl_kind, uint32_t key);
/* Whole seconds until key may try again (0: now), for the refusal. */
int64_t	 ratelimit_wait(enum rl_kind, uint32_t key);
void	 ratelimit_free(void);

#endif /* TOKEND_RATELIMIT_H */
