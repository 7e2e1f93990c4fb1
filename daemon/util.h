/* SPDX-License-Identifier: ISC */
/* Small helpers shared by the daemon's modules. */
#ifndef TOKEND_UTIL_H
#define TOKEND_UTIL_H

/*
 * Set *cause (when cause is not NULL) to a malloc'ed message; it is left
 * NULL if memory runs out.  Always returns -1, for "return cause_set(...)".
 */
int	 cause_set(char **cause, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));

#endif /* TOKEND_UTIL_H */
