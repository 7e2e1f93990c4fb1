/* SPDX-License-Identifier: ISC */
/*
 * The daemon's clock: wall time for expiries, monotonic milliseconds for
 * delays.  One seam, so that the tests can move the daemon's wall clock
 * instead of waiting out a real token lifetime: when the environment
 * names a file in TOKEND_TEST_CLOCK_FILE, its content (a signed number
 * of seconds) is added to the wall clock, re-read whenever the file
 * changes.  Nothing else in the daemon calls time().
 */
#ifndef TOKEND_CLOCK_H
#define TOKEND_CLOCK_H

#include <stdint.h>

/* Read the environment once, at start-up. */
void	 clock_init(void);
/* Wall time, Unix seconds (plus the test offset, if any). */
int64_t	 clock_now(void);
/* Monotonic milliseconds, for rate limits and timeouts. */
int64_t	 clock_mono_ms(void);

#endif /* TOKEND_CLOCK_H */
