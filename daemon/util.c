/* SPDX-License-Identifier: ISC */
/* Small helpers shared by the daemon's modules (util.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

int
cause_set(char **cause, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
	return -1;
}
