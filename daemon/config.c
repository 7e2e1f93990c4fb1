/* SPDX-License-Identifier: ISC */
/*
 * tokend.conf: one table names every key, its type, where it lives in
 * struct config and its allowed range.  config_set() checks one value,
 * config_load() parses a whole file into a copy, checks the rules that tie
 * keys together and only then replaces the caller's configuration.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"
#include "util.h"
#include "proto.h"

#define CONFIG_LINE_MAX		4096		/* bytes, without the newline */
#define CONFIG_GRBUF_MAX	(4 << 20)	/* getgrnam_r buffer limit */

#define MINUTE		60
#define HOUR		(60 * MINUTE)
#define DAY		(24 * HOUR)
#define KIB		1024ULL
#define MIB		(1024 * KIB)
#define GIB		(1024 * MIB)

enum config_type {
	CONFIG_PATH,		/* char[]: absolute path */
	CONFIG_PATH_OPT,	/* char[]: absolute path or "" */
	CONFIG_SERVICE,		/* char[]: PAM service name */
	CONFIG_GROUP,		/* char[]: group name or "" */
	CONFIG_USER,		/* char[]: a user name */
	CONFIG_STORE,		/* char[]: "lmdb" or "postgresql" */
	CONFIG_CONNINFO,	/* char[]: a libpq conninfo string, or "" */
	CONFIG_COUNT,		/* unsigned: plain integer */
	CONFIG_MSEC,		/* unsigned: plain integer, milliseconds */
	CONFIG_BYTES,		/* unsigned: size with optional suffix */
	CONFIG_SECS,		/* unsigned: duration */
	CONFIG_SECS64,		/* int64_t: duration */
	CONFIG_SIZE64,		/* uint64_t: size with optional suffix */
	CONFIG_BOOL		/* int: yes/no */
};

struct config_entry {
	const char		*name;
	enum config_type	 type;
	size_t			 off;
	size_t			 size;
	uint64_t		 min;
	uint64_t		 max;
};

#define CONFIG_FIELD(f) \
	offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct config_entry config_table[] = {
	{ "socket_path", CONFIG_PATH, CONFIG_FIELD(socket_path), 0, 0 },
	{ "db_dir", CONFIG_PATH, CONFIG_FIELD(db_dir), 0, 0 },
	{ "key_file", CONFIG_PATH, CONFIG_FIELD(key_file), 0, 0 },
	{ "pam_service", CONFIG_SERVICE, CONFIG_FIELD(pam_service), 0, 0 },
	{ "pam_confdir", CONFIG_PATH_OPT, CONFIG_FIELD(pam_confdir), 0, 0 },
	{ "user", CONFIG_USER, CONFIG_FIELD(user), 0, 0 },
	{ "admin_group", CONFIG_GROUP, CONFIG_FIELD(admin_group), 0, 0 },
	{ "verifier_group", CONFIG_GROUP, CONFIG_FIELD(verifier_group), 0, 0 },
	{ "max_connections", CONFIG_COUNT, CONFIG_FIELD(max_connections),
	  1, 65536 },
	{ "max_connections_per_uid", CONFIG_COUNT,
	  CONFIG_FIELD(max_connections_per_uid), 1, 65536 },
	{ "max_frame", CONFIG_BYTES, CONFIG_FIELD(max_frame),
	  256, TOKEND_FRAME_MAX },
	{ "idle_timeout", CONFIG_SECS, CONFIG_FIELD(idle_timeout), 1, DAY },
	{ "pam_timeout", CONFIG_SECS, CONFIG_FIELD(pam_timeout), 1, HOUR },
	{ "max_pam_helpers", CONFIG_COUNT, CONFIG_FIELD(max_pam_helpers),
	  1, 1024 },
	{ "max_pam_per_uid", CONFIG_COUNT, CONFIG_FIELD(max_pam_per_uid),
	  1, 1024 },
	{ "max_pam_queued_per_uid", CONFIG_COUNT,
	  CONFIG_FIELD(max_pam_queued_per_uid), 0, 1024 },
	{ "pam_serialize", CONFIG_BOOL, CONFIG_FIELD(pam_serialize), 0, 1 },
	{ "otp_enroll", CONFIG_BOOL, CONFIG_FIELD(otp_enroll), 0, 1 },
	{ "otp_dir", CONFIG_PATH, CONFIG_FIELD(otp_dir), 0, 0 },
	{ "store", CONFIG_STORE, CONFIG_FIELD(store), 0, 0 },
	{ "postgresql", CONFIG_CONNINFO, CONFIG_FIELD(postgresql), 0, 0 },
	{ "fleet_max_staleness", CONFIG_SECS, CONFIG_FIELD(fleet_max_staleness),
	  1, DAY },
	{ "account_recheck", CONFIG_SECS, CONFIG_FIELD(account_recheck),
	  0, DAY },
	{ "lookup_timeout", CONFIG_SECS, CONFIG_FIELD(lookup_timeout),
	  1, HOUR },
	{ "fail_delay_ms", CONFIG_MSEC, CONFIG_FIELD(fail_delay_ms), 0, 10000 },
	{ "refresh_default", CONFIG_SECS64, CONFIG_FIELD(refresh_default),
	  MINUTE, 3650ULL * DAY },
	{ "refresh_max", CONFIG_SECS64, CONFIG_FIELD(refresh_max),
	  MINUTE, 3650ULL * DAY },
	{ "access_default", CONFIG_SECS64, CONFIG_FIELD(access_default),
	  1, DAY },
	{ "access_max", CONFIG_SECS64, CONFIG_FIELD(access_max), 1, DAY },
	{ "rotate_overlap_max", CONFIG_SECS64,
	  CONFIG_FIELD(rotate_overlap_max), 0, DAY },
	{ "max_tokens_per_user", CONFIG_COUNT,
	  CONFIG_FIELD(max_tokens_per_user), 1, 100000 },
	{ "exchange_fail_burst", CONFIG_COUNT,
	  CONFIG_FIELD(exchange_fail_burst), 0, 1000000 },
	{ "exchange_fail_per_minute", CONFIG_COUNT,
	  CONFIG_FIELD(exchange_fail_per_minute), 1, 1000000 },
	{ "verify_fail_burst", CONFIG_COUNT,
	  CONFIG_FIELD(verify_fail_burst), 0, 1000000 },
	{ "verify_fail_per_minute", CONFIG_COUNT,
	  CONFIG_FIELD(verify_fail_per_minute), 1, 1000000 },
	{ "auth_fail_burst", CONFIG_COUNT,
	  CONFIG_FIELD(auth_fail_burst), 0, 1000000 },
	{ "auth_fail_per_minute", CONFIG_COUNT,
	  CONFIG_FIELD(auth_fail_per_minute), 1, 1000000 },
	{ "map_size", CONFIG_SIZE64, CONFIG_FIELD(map_size), MIB, SIZE_MAX },
	{ "purge_interval", CONFIG_SECS, CONFIG_FIELD(purge_interval),
	  10, DAY },
	{ "answer_cache", CONFIG_BOOL, CONFIG_FIELD(answer_cache), 0, 1 },
	{ "answer_cache_size", CONFIG_COUNT, CONFIG_FIELD(answer_cache_size),
	  1024, 16777216 },
	{ "last_used_flush", CONFIG_SECS, CONFIG_FIELD(last_used_flush),
	  1, MINUTE },
};
#define CONFIG_NENTRIES	(sizeof config_table / sizeof config_table[0])

static const char *
config_cause(const char *cause)
{
	return cause != NULL ? cause : "out of memory";
}

static void
config_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void
config_defaults(struct config *conf)
{
	memset(conf, 0, sizeof *conf);
	config_copy(conf->socket_path, sizeof conf->socket_path,
	    TOKEND_SOCKET_PATH);
	config_copy(conf->db_dir, sizeof conf->db_dir, TOKEND_DB_DIR);
	config_copy(conf->key_file, sizeof conf->key_file, TOKEND_KEY_FILE);
	config_copy(conf->pam_service, sizeof conf->pam_service,
	    TOKEND_PAM_SERVICE);
	config_copy(conf->user, sizeof conf->user, TOKEND_USER);
	config_copy(conf->otp_dir, sizeof conf->otp_dir, TOKEND_OTP_DIR);
	config_copy(conf->store, sizeof conf->store, "lmdb");
	conf->fleet_max_staleness = TOKEND_DEF_FLEET_MAX_STALENESS;

	conf->max_connections = TOKEND_DEF_MAX_CONNECTIONS;
	conf->max_connections_per_uid = TOKEND_DEF_MAX_CONNECTIONS_PER_UID;
	conf->max_frame = TOKEND_DEF_MAX_FRAME;
	conf->idle_timeout = TOKEND_DEF_IDLE_TIMEOUT;

	conf->pam_timeout = TOKEND_DEF_PAM_TIMEOUT;
	conf->max_pam_helpers = TOKEND_DEF_MAX_PAM_HELPERS;
	conf->max_pam_per_uid = TOKEND_DEF_MAX_PAM_PER_UID;
	conf->max_pam_queued_per_uid = TOKEND_DEF_MAX_PAM_QUEUED_PER_UID;
	conf->pam_serialize = TOKEND_DEF_PAM_SERIALIZE;
	conf->account_recheck = TOKEND_DEF_ACCOUNT_RECHECK;
	conf->lookup_timeout = TOKEND_DEF_LOOKUP_TIMEOUT;
	conf->fail_delay_ms = TOKEND_DEF_FAIL_DELAY_MS;

	conf->refresh_default = TOKEND_DEF_REFRESH_DEFAULT;
	conf->refresh_max = TOKEND_DEF_REFRESH_MAX;
	conf->access_default = TOKEND_DEF_ACCESS_DEFAULT;
	conf->access_max = TOKEND_DEF_ACCESS_MAX;
	conf->rotate_overlap_max = TOKEND_DEF_ROTATE_OVERLAP_MAX;
	conf->max_tokens_per_user = TOKEND_DEF_MAX_TOKENS_PER_USER;

	conf->exchange_fail_burst = TOKEND_DEF_EXCHANGE_FAIL_BURST;
	conf->exchange_fail_per_minute = TOKEND_DEF_EXCHANGE_FAIL_PER_MINUTE;
	conf->verify_fail_burst = TOKEND_DEF_VERIFY_FAIL_BURST;
	conf->verify_fail_per_minute = TOKEND_DEF_VERIFY_FAIL_PER_MINUTE;
	conf->auth_fail_burst = TOKEND_DEF_AUTH_FAIL_BURST;
	conf->auth_fail_per_minute = TOKEND_DEF_AUTH_FAIL_PER_MINUTE;

	conf->map_size = TOKEND_DEF_MAP_SIZE;
	conf->purge_interval = TOKEND_DEF_PURGE_INTERVAL;
	conf->last_used_flush = TOKEND_DEF_LAST_USED_FLUSH;
	conf->answer_cache = TOKEND_DEF_ANSWER_CACHE;
	conf->answer_cache_size = TOKEND_DEF_ANSWER_CACHE_SIZE;
}

/* Decimal digits only: no sign, no space, no overflow. */
static int
config_parse_digits(const char *s, uint64_t *n, const char **end)
{
	uint64_t	v = 0, d;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*n = v;
	*end = s;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *bytes)
{
	const char	*end;
	uint64_t	 n, mult;

	if (s == NULL || config_parse_digits(s, &n, &end) != 0)
		return -1;
	switch (*end) {
	case '\0':
		mult = 1;
		break;
	case 'k':
	case 'K':
		mult = KIB;
		break;
	case 'm':
	case 'M':
		mult = MIB;
		break;
	case 'g':
	case 'G':
		mult = GIB;
		break;
	case 't':
	case 'T':
		mult = 1024 * GIB;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (n > UINT64_MAX / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

static int
config_parse_bool(const char *s, uint64_t *v)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0) {
		*v = 1;
		return 0;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		*v = 0;
		return 0;
	}
	return -1;
}

static const struct config_entry *
config_find(const char *key)
{
	size_t	i;

	for (i = 0; i < CONFIG_NENTRIES; i++) {
		if (strcmp(config_table[i].name, key) == 0)
			return &config_table[i];
	}
	return NULL;
}

static int
config_is_string(const struct config_entry *e)
{
	switch (e->type) {
	case CONFIG_PATH:
	case CONFIG_PATH_OPT:
	case CONFIG_SERVICE:
	case CONFIG_GROUP:
	case CONFIG_USER:
	case CONFIG_STORE:
	case CONFIG_CONNINFO:
		return 1;
	default:
		return 0;
	}
}

static const char *
config_unit(const struct config_entry *e)
{
	switch (e->type) {
	case CONFIG_MSEC:
		return " ms";
	case CONFIG_BYTES:
	case CONFIG_SIZE64:
		return " bytes";
	case CONFIG_SECS:
	case CONFIG_SECS64:
		return " seconds";
	default:
		return "";
	}
}

/* What a value that does not parse should look like, for the message. */
static const char *
config_form(const struct config_entry *e)
{
	switch (e->type) {
	case CONFIG_SECS:
	case CONFIG_SECS64:
		return " (a duration: " DURATION_UNITS ")";
	case CONFIG_BYTES:
	case CONFIG_SIZE64:
		return " (a size: bytes, or a number with K, M, G or T)";
	case CONFIG_BOOL:
		return " (yes or no)";
	default:
		return " (a whole number)";
	}
}

/* "1s to 1h", "1 to 64", "4096 to 1073741824 bytes": an entry's range. */
static const char *
config_range(const struct config_entry *e, char *buf, size_t size)
{
	char	lo[32], hi[32];

	if (e->type == CONFIG_SECS || e->type == CONFIG_SECS64)
		snprintf(buf, size, "%s to %s",
		    duration_format((int64_t)e->min, lo, sizeof(lo)),
		    duration_format((int64_t)e->max, hi, sizeof(hi)));
	else
		snprintf(buf, size, "%" PRIu64 " to %" PRIu64 "%s", e->min,
		    e->max, config_unit(e));
	return buf;
}

/* Text value to number, by the entry's type; range is checked elsewhere. */
static int
config_parse_number(const struct config_entry *e, const char *s,
    uint64_t *v)
{
	const char	*end;
	int64_t		 secs;

	switch (e->type) {
	case CONFIG_COUNT:
	case CONFIG_MSEC:
		if (config_parse_digits(s, v, &end) != 0 || *end != '\0')
			return -1;
		return 0;
	case CONFIG_BYTES:
	case CONFIG_SIZE64:
		return config_parse_size(s, v);
	case CONFIG_SECS:
	case CONFIG_SECS64:
		if (duration_parse(s, &secs) != 0)
			return -1;
		*v = (uint64_t)secs;
		return 0;
	case CONFIG_BOOL:
		return config_parse_bool(s, v);
	default:
		return -1;
	}
}

/* Read a numeric field; -1 if it holds a negative value. */
static int
config_get_number(const struct config *conf, const struct config_entry *e,
    uint64_t *v)
{
	const char	*p = (const char *)conf + e->off;
	unsigned	 u;
	int64_t		 s64;
	int		 i;

	switch (e->type) {
	case CONFIG_COUNT:
	case CONFIG_MSEC:
	case CONFIG_BYTES:
	case CONFIG_SECS:
		memcpy(&u, p, sizeof u);
		*v = u;
		return 0;
	case CONFIG_SECS64:
		memcpy(&s64, p, sizeof s64);
		if (s64 < 0)
			return -1;
		*v = (uint64_t)s64;
		return 0;
	case CONFIG_SIZE64:
		memcpy(v, p, sizeof *v);
		return 0;
	case CONFIG_BOOL:
		memcpy(&i, p, sizeof i);
		*v = i != 0;
		return 0;
	default:
		return -1;
	}
}

/* Store a numeric field; v has been range-checked against the entry. */
static void
config_put_number(struct config *conf, const struct config_entry *e,
    uint64_t v)
{
	char		*p = (char *)conf + e->off;
	unsigned	 u = (unsigned)v;
	int64_t		 s64 = (int64_t)v;
	int		 i = v != 0;

	switch (e->type) {
	case CONFIG_COUNT:
	case CONFIG_MSEC:
	case CONFIG_BYTES:
	case CONFIG_SECS:
		memcpy(p, &u, sizeof u);
		break;
	case CONFIG_SECS64:
		memcpy(p, &s64, sizeof s64);
		break;
	case CONFIG_SIZE64:
		memcpy(p, &v, sizeof v);
		break;
	case CONFIG_BOOL:
		memcpy(p, &i, sizeof i);
		break;
	default:
		break;
	}
}

static int
config_check_string(const struct config_entry *e, const char *s,
    char **cause)
{
	const unsigned char	*p;

	if (strlen(s) >= e->size) {
		cause_set(cause, "value for %s too long (at most %zu bytes)",
		    e->name, e->size - 1);
		return -1;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			cause_set(cause, "bad value for %s: control "
			    "character", e->name);
			return -1;
		}
	}
	switch (e->type) {
	case CONFIG_PATH:
		if (*s != '/') {
			cause_set(cause, "bad value for %s: '%s' (must be "
			    "an absolute path)", e->name, s);
			return -1;
		}
		break;
	case CONFIG_PATH_OPT:
		if (*s != '\0' && *s != '/') {
			cause_set(cause, "bad value for %s: '%s' (must be "
			    "empty or an absolute path)", e->name, s);
			return -1;
		}
		break;
	case CONFIG_USER:
		if (*s == '\0' || *s == '-' || strchr(s, ':') != NULL) {
			cause_set(cause, "bad value for %s: '%s' (must be "
			    "a user name)", e->name, s);
			return -1;
		}
		break;
	case CONFIG_STORE:
		if (strcmp(s, "lmdb") != 0 && strcmp(s, "postgresql") != 0) {
			cause_set(cause, "bad value for %s: '%s' (must be "
			    "lmdb or postgresql)", e->name, s);
			return -1;
		}
		break;
	case CONFIG_SERVICE:
		if (*s == '\0' || strchr(s, '/') != NULL ||
		    strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
			cause_set(cause, "bad value for %s: '%s' (must be "
			    "a PAM service name)", e->name, s);
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

int
config_set(struct config *conf, const char *key, const char *value,
    char **cause)
{
	const struct config_entry	*e;
	char				 range[80];
	uint64_t			 v;

	if (key == NULL || (e = config_find(key)) == NULL) {
		cause_set(cause, "unknown key '%s'",
		    key != NULL ? key : "");
		return -1;
	}
	if (value == NULL)
		value = "";
	if (config_is_string(e)) {
		if (config_check_string(e, value, cause) != 0)
			return -1;
		memcpy((char *)conf + e->off, value, strlen(value) + 1);
		return 0;
	}
	if (config_parse_number(e, value, &v) != 0) {
		cause_set(cause, "bad value for %s: '%s'%s", e->name, value,
		    config_form(e));
		return -1;
	}
	if (v < e->min || v > e->max) {
		cause_set(cause, "bad value for %s: '%s' (must be %s)",
		    e->name, value, config_range(e, range, sizeof(range)));
		return -1;
	}
	config_put_number(conf, e, v);
	return 0;
}

/* Every field in range, and the rules that tie fields together. */
static int
config_check(const struct config *conf, char **cause)
{
	const struct config_entry	*e;
	const char			*s;
	char				 range[80];
	uint64_t			 v;
	size_t				 i;

	for (i = 0; i < CONFIG_NENTRIES; i++) {
		e = &config_table[i];
		if (config_is_string(e)) {
			s = (const char *)conf + e->off;
			if (memchr(s, '\0', e->size) == NULL) {
				cause_set(cause, "value for %s too long",
				    e->name);
				return -1;
			}
			if (config_check_string(e, s, cause) != 0)
				return -1;
			continue;
		}
		if (config_get_number(conf, e, &v) != 0 ||
		    v < e->min || v > e->max) {
			cause_set(cause, "bad value for %s (must be %s)",
			    e->name, config_range(e, range, sizeof(range)));
			return -1;
		}
	}
	if ((conf->answer_cache_size & (conf->answer_cache_size - 1)) != 0) {
		cause_set(cause, "answer_cache_size (%u) must be a power of "
		    "two: 65536, 262144, 1048576", conf->answer_cache_size);
		return -1;
	}
	if (strcmp(conf->store, "postgresql") == 0 &&
	    conf->postgresql[0] == '\0') {
		cause_set(cause, "store = postgresql needs postgresql = "
		    "\"<libpq connection string>\"");
		return -1;
	}
	if (conf->max_connections_per_uid > conf->max_connections) {
		cause_set(cause, "max_connections_per_uid (%u) is larger "
		    "than max_connections (%u)", conf->max_connections_per_uid,
		    conf->max_connections);
		return -1;
	}
	if (conf->refresh_default > conf->refresh_max) {
		cause_set(cause, "refresh_default (%" PRId64 "s) is longer "
		    "than refresh_max (%" PRId64 "s)", conf->refresh_default,
		    conf->refresh_max);
		return -1;
	}
	if (conf->access_default > conf->access_max) {
		cause_set(cause, "access_default (%" PRId64 "s) is longer "
		    "than access_max (%" PRId64 "s)", conf->access_default,
		    conf->access_max);
		return -1;
	}
	return 0;
}

/*
 * Read one line without its newline.  1: a line; 0: end of file; -1: read
 * error (errno set); -2: longer than size - 1 bytes; -3: a NUL byte.
 */
static int
config_read_line(FILE *f, char *buf, size_t size)
{
	size_t	len = 0;
	int	c, nul = 0;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			nul = 1;
		if (len == size - 1)
			return -2;
		buf[len++] = (char)c;
	}
	buf[len] = '\0';
	if (c == EOF) {
		if (ferror(f))
			return -1;
		if (len == 0 && !nul)
			return 0;
	}
	return nul ? -3 : 1;
}

static char *
config_trim(char *s)
{
	size_t	len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

/*
 * Split "key = value" in place.  *key is NULL for a blank or comment line.
 * A '#' starts a comment at the start of the value or after whitespace;
 * a double-quoted value is taken as is, up to the closing quote.
 */
static int
config_split(char *line, char **key, char **value, char **cause)
{
	char	*eq, *v, *p;

	*key = *value = NULL;
	line = config_trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		cause_set(cause, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	*key = config_trim(line);
	if (**key == '\0') {
		cause_set(cause, "missing key before '='");
		return -1;
	}

	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '"') {
		v++;
		if ((p = strchr(v, '"')) == NULL) {
			cause_set(cause, "missing closing quote");
			return -1;
		}
		*p++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '\0' && *p != '#') {
			cause_set(cause, "unexpected text after closing "
			    "quote");
			return -1;
		}
		*value = v;
		return 0;
	}
	for (p = v; *p != '\0'; p++) {
		if (*p == '#' && (p == v || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	*value = config_trim(v);
	return 0;
}

int
config_load(struct config *conf, const char *path, int must_exist,
    char **cause)
{
	struct config	 tmp;
	FILE		*f = NULL;
	char		 line[CONFIG_LINE_MAX + 1];
	char		*key, *value, *c = NULL;
	unsigned	 lineno = 0;
	int		 r;

	tmp = *conf;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		cause_set(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	for (;;) {
		r = config_read_line(f, line, sizeof line);
		if (r == 0)
			break;
		lineno++;
		switch (r) {
		case -1:
			cause_set(cause, "%s: %s", path, strerror(errno));
			goto fail;
		case -2:
			cause_set(cause, "%s:%u: line too long (more than "
			    "%d bytes)", path, lineno, CONFIG_LINE_MAX);
			goto fail;
		case -3:
			cause_set(cause, "%s:%u: NUL byte in line", path,
			    lineno);
			goto fail;
		}
		if (config_split(line, &key, &value, &c) != 0 ||
		    (key != NULL && config_set(&tmp, key, value, &c) != 0)) {
			cause_set(cause, "%s:%u: %s", path, lineno,
			    config_cause(c));
			goto fail;
		}
	}
	if (config_check(&tmp, &c) != 0) {
		cause_set(cause, "%s: %s", path, config_cause(c));
		goto fail;
	}
	fclose(f);
	*conf = tmp;
	return 0;

fail:
	free(c);
	if (f != NULL)
		fclose(f);
	return -1;
}

int
config_group_gid(const char *name, gid_t *gid)
{
	struct group	 gr, *res = NULL;
	char		*buf = NULL, *nbuf;
	size_t		 len;
	long		 max;
	int		 error, ret = -1;

	if (name == NULL || *name == '\0')
		return -1;
	max = sysconf(_SC_GETGR_R_SIZE_MAX);
	len = max > 0 && max < CONFIG_GRBUF_MAX ? (size_t)max : 1024;
	for (;;) {
		if ((nbuf = realloc(buf, len)) == NULL)
			goto done;
		buf = nbuf;
		error = getgrnam_r(name, &gr, buf, len, &res);
		if (error != ERANGE)
			break;
		if (len >= CONFIG_GRBUF_MAX)
			goto done;
		len *= 2;
	}
	if (error == 0 && res != NULL) {
		*gid = res->gr_gid;
		ret = 0;
	}

done:
	free(buf);
	return ret;
}
