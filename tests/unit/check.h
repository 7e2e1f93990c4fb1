/* SPDX-License-Identifier: ISC */
/* A minimal unit test harness: CHECK() counts, check_summary() reports. */
#ifndef TOKEND_CHECK_H
#define TOKEND_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond, what) do {						\
	if (cond) {							\
		check_passed++;						\
	} else {							\
		check_failed++;						\
		fprintf(stderr, "FAIL %s:%d: %s (%s)\n",		\
		    __FILE__, __LINE__, (what), #cond);			\
	}								\
} while (0)

/* Prints "N passed, M failed" and gives the exit status for main(). */
static inline int
check_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed == 0 ? 0 : 1;
}

#endif /* TOKEND_CHECK_H */
