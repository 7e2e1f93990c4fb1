/* SPDX-License-Identifier: ISC */
/*
 * Durations as people write them, one parser for tokend.conf, the
 * daemon's messages and tokenctl: a number of seconds, or a number with
 * one unit letter, s, m, h, d or w (either case): "300", "300s", "5m",
 * "12h", "30d", "2w".
 */
#ifndef TOKEND_DURATION_H
#define TOKEND_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* What a message says a duration may look like. */
#define DURATION_UNITS	"seconds, or a number with s, m, h, d or w: 300, 5m, 12h, 30d"

/* 0 and *secs set, or -1 (not a duration, or beyond INT64_MAX seconds). */
int		 duration_parse(const char *s, int64_t *secs);
/*
 * secs in the largest unit that divides it exactly ("1h", "90s", "30d"),
 * as the parser reads it back.  Returns buf.
 */
const char	*duration_format(int64_t secs, char *buf, size_t size);
/*
 * When t is, seen from now, as people say it: "in 30 days", "3 hours
 * ago", "in 45 minutes", "in 20 seconds", "now"; "never" for 0.  One
 * rule for tokenctl and pam_tokend: days from 36 hours, hours from 90
 * minutes, minutes from 90 seconds, each the nearest whole number, so
 * a token made for 30 days reads "in 30 days" a second later and the
 * list and the login warning agree.
 */
const char	*duration_relative(int64_t t, int64_t now, char *buf,
		    size_t size);

#endif /* TOKEND_DURATION_H */
