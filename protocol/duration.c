/* SPDX-License-Identifier: ISC */
/* Durations: see duration.h. */
#include <inttypes.h>
#include <stdio.h>

#include "duration.h"

static const struct {
	char	letter;
	int64_t	secs;
} units[] = {
	{ 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 },
	{ 's', 1 },
};
#define NUNITS	(sizeof(units) / sizeof(units[0]))

int
duration_parse(const char *s, int64_t *secs)
{
	const char	*p;
	int64_t		 v = 0, mult = 1;
	size_t		 i;

	if (s == NULL)
		return -1;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (p == s)
		return -1;
	if (*p != '\0') {
		if (p[1] != '\0')
			return -1;
		for (i = 0; i < NUNITS; i++)
			if ((*p | 0x20) == units[i].letter)
				break;
		if (i == NUNITS)
			return -1;
		mult = units[i].secs;
	}
	if (v > INT64_MAX / mult)
		return -1;
	*secs = v * mult;
	return 0;
}

const char *
duration_format(int64_t secs, char *buf, size_t size)
{
	size_t	i;

	/* Days, not weeks: "at most 14d" reads more easily than "2w". */
	for (i = 1; i < NUNITS - 1; i++)
		if (secs != 0 && secs % units[i].secs == 0)
			break;
	snprintf(buf, size, "%" PRId64 "%c", secs / units[i].secs,
	    units[i].letter);
	return buf;
}

const char *
duration_relative(int64_t t, int64_t now, char *buf, size_t size)
{
	const char	*unit;
	int64_t		 d, a, u, v;

	if (t == 0) {
		snprintf(buf, size, "never");
		return buf;
	}
	d = t - now;
	a = d < 0 ? -d : d;
	if (a == 0) {
		snprintf(buf, size, "now");
		return buf;
	}
	/* A unit from 1.5 of it: 36 hours is "2 days", 35 "35 hours". */
	if (a < 90) {
		u = 1;
		unit = "second";
	} else if (a < 90 * 60) {
		u = 60;
		unit = "minute";
	} else if (a < 36 * 3600) {
		u = 3600;
		unit = "hour";
	} else {
		u = 86400;
		unit = "day";
	}
	v = (a + u / 2) / u;		/* the nearest whole unit */
	if (d > 0)
		snprintf(buf, size, "in %" PRId64 " %s%s", v, unit,
		    v == 1 ? "" : "s");
	else
		snprintf(buf, size, "%" PRId64 " %s%s ago", v, unit,
		    v == 1 ? "" : "s");
	return buf;
}
