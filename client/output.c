/* SPDX-License-Identifier: ISC */
/*
 * Output: times (RFC 3339 UTC, dates, "in 29 days"), aligned tables,
 * json-c helpers, and writing secrets to stdout without copying them.
 */
#include <sys/uio.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "duration.h"
#include "tokenctl.h"

#define OUTPUT_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct output_table {
	unsigned	  ncols;
	size_t		  nrows;
	size_t		  cap;
	char		**cells;	/* row after row, ncols each */
};

/* t in UTC as a date, or as date and time when full is set. */
static void
output_time_fmt(int64_t t, int full, char *buf, size_t size)
{
	struct tm	tm;
	time_t		tt = (time_t)t;
	size_t		n = 0;

	if (gmtime_r(&tt, &tm) != NULL) {
		if (full)
			n = strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
		else
			n = strftime(buf, size, "%Y-%m-%d", &tm);
	}
	if (n == 0)
		snprintf(buf, size, "%" PRId64, t);
}

void
output_time_rfc3339(int64_t t, char *buf, size_t size)
{
	output_time_fmt(t, 1, buf, size);
}

void
output_time_date(int64_t t, char *buf, size_t size)
{
	output_time_fmt(t, 0, buf, size);
}

/*
 * Now, as the daemon sees it.  The regression tests move the daemon's
 * clock through TOKEND_TEST_CLOCK_FILE (daemon/clock.c); tokenctl reads
 * the same offset, so "expired" means the same on both sides.
 */
int64_t
output_now(void)
{
	static int	 done;
	static int64_t	 offset;
	const char	*path;
	char		 buf[32], *end;
	FILE		*f;
	long long	 v;

	if (!done) {
		done = 1;
		if ((path = getenv("TOKEND_TEST_CLOCK_FILE")) != NULL &&
		    (f = fopen(path, "re")) != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL) {
				v = strtoll(buf, &end, 10);
				if (end != buf && (*end == '\0' || *end == '\n'))
					offset = v;
			}
			fclose(f);
		}
	}
	return (int64_t)time(NULL) + offset;
}

void
output_time_relative(int64_t t, int64_t now, char *buf, size_t size)
{
	duration_relative(t, now, buf, size);
}

/* The library's, shared with pam_tokend. */
void
output_clean(const char *s, char *buf, size_t size)
{
	tokend_text_clean(s, buf, size);
}

void
output_scopes(const struct tokend_token *tok, const char *sep, char *buf,
    size_t size)
{
	size_t		len = 0;
	unsigned	i;
	int		n;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < tok->nscopes && i < TOKEND_MAX_SCOPES; i++) {
		n = snprintf(buf + len, size - len, "%s%s", i > 0 ? sep : "",
		    tok->scopes[i]);
		if (n < 0 || (size_t)n >= size - len)
			break;		/* truncated */
		len += (size_t)n;
	}
}

struct output_table *
output_table_new(unsigned ncols)
{
	struct output_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->ncols = ncols;
	return t;
}

int
output_table_add(struct output_table *t, const char *const *cells)
{
	char		**v;
	size_t		  cap, len;
	unsigned	  i;

	if (t->nrows == t->cap) {
		cap = t->cap ? t->cap * 2 : 16;
		v = reallocarray(t->cells, cap * t->ncols, sizeof(*v));
		if (v == NULL)
			return -1;
		t->cells = v;
		t->cap = cap;
	}
	v = t->cells + t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		len = strlen(cells[i]) + 1;
		if ((v[i] = malloc(len)) == NULL)
			goto fail;
		output_clean(cells[i], v[i], len);
	}
	t->nrows++;
	return 0;
fail:
	while (i-- > 0)
		free(v[i]);
	return -1;
}

/* Terminal columns of a UTF-8 string (continuation bytes take none). */
static size_t
output_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

int
output_table_print(struct output_table *t, FILE *f)
{
	size_t		*width, r, w;
	unsigned	 c;
	const char	*cell;

	if ((width = calloc(t->ncols, sizeof(*width))) == NULL)
		return -1;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			w = output_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			cell = t->cells[r * t->ncols + c];
			fputs(cell, f);
			if (c + 1 == t->ncols)
				break;
			for (w = output_width(cell); w < width[c] + 2; w++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(width);
	return ferror(f) ? -1 : 0;
}

void
output_table_free(struct output_table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Add v under key; v is consumed even on failure. */
static int
output_json_add(struct json_object *obj, const char *key,
    struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
output_json_string(struct json_object *obj, const char *key,
    const char *value)
{
	return output_json_add(obj, key, json_object_new_string(value));
}

int
output_json_int(struct json_object *obj, const char *key, int64_t value)
{
	return output_json_add(obj, key, json_object_new_int64(value));
}

int
output_json_uint(struct json_object *obj, const char *key, uint64_t value)
{
	return output_json_add(obj, key, json_object_new_uint64(value));
}

int
output_json_bool(struct json_object *obj, const char *key, int value)
{
	return output_json_add(obj, key, json_object_new_boolean(value != 0));
}

int
output_json_time(struct json_object *obj, const char *key, int64_t t,
    int nullable)
{
	char	buf[OUTPUT_TIME_SIZE];

	if (t == 0 && nullable)
		return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
	output_time_rfc3339(t, buf, sizeof(buf));
	return output_json_string(obj, key, buf);
}

int
output_json_scopes(struct json_object *obj, const char *key,
    const struct tokend_token *tok)
{
	struct json_object	*a, *s;
	unsigned		 i;

	if ((a = json_object_new_array()) == NULL)
		return -1;
	for (i = 0; i < tok->nscopes && i < TOKEND_MAX_SCOPES; i++) {
		if ((s = json_object_new_string(tok->scopes[i])) == NULL ||
		    json_object_array_add(a, s) != 0) {
			json_object_put(s);
			json_object_put(a);
			return -1;
		}
	}
	return output_json_add(obj, key, a);
}

int
output_json_print(struct json_object *value)
{
	const char	*s;

	if ((s = json_object_to_json_string_ext(value, OUTPUT_JSON_FLAGS)) == NULL)
		return -1;
	if (puts(s) == EOF || fflush(stdout) != 0)
		return -1;
	return 0;
}

int
output_json_error(const char *message, int code)
{
	struct json_object	*o;
	int			 rc = -1;

	if ((o = json_object_new_object()) == NULL)
		return -1;
	if (output_json_string(o, "error", message) == 0 &&
	    output_json_int(o, "code", code) == 0)
		rc = output_json_print(o);
	json_object_put(o);
	return rc;
}

/* writev() everything, then nothing of it stays in a stdio buffer. */
static int
output_writev(struct iovec *iov, int n)
{
	ssize_t	w;

	if (fflush(stdout) != 0)
		return -1;
	while (n > 0) {
		if ((w = writev(STDOUT_FILENO, iov, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void
output_iov(struct iovec *iov, const char *s)
{
	iov->iov_base = (void *)(uintptr_t)s;
	iov->iov_len = strlen(s);
}

/* Token characters need no JSON escaping; anything else is refused. */
static int
output_json_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

int
output_json_secret(const char *key, const char *secret,
    struct json_object *rest)
{
	struct iovec	 iov[8];
	const char	*r = "{}";

	if (!output_json_plain(key) || !output_json_plain(secret))
		return -1;
	if (rest != NULL &&
	    (r = json_object_to_json_string_ext(rest, OUTPUT_JSON_FLAGS)) == NULL)
		return -1;
	output_iov(&iov[0], "{\"");
	output_iov(&iov[1], key);
	output_iov(&iov[2], "\":\"");
	output_iov(&iov[3], secret);
	output_iov(&iov[4], "\"");
	if (strcmp(r, "{}") == 0) {
		output_iov(&iov[5], "");
		output_iov(&iov[6], "}");
	} else {
		output_iov(&iov[5], ",");
		output_iov(&iov[6], r + 1);	/* the members and '}' */
	}
	output_iov(&iov[7], "\n");
	return output_writev(iov, 8);
}

int
output_secret_line(const char *secret)
{
	struct iovec	iov[2];

	output_iov(&iov[0], secret);
	output_iov(&iov[1], "\n");
	return output_writev(iov, 2);
}
