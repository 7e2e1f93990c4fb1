/* SPDX-License-Identifier: ISC */
/* Unit tests for daemon/config.c: defaults, value parsers, the file parser. */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "duration.h"

static char	test_path[PATH_MAX];

/* Write len bytes to a fresh temporary file; its name is in test_path. */
static int
test_write(const char *text, size_t len)
{
	const char	*dir;
	int		 fd;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(test_path, sizeof test_path, "%s/test_config.XXXXXX", dir);
	if ((fd = mkstemp(test_path)) == -1)
		return (-1);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(test_path);
		return (-1);
	}
	close(fd);
	return (0);
}

/* Load text as a config file into *conf; cause is returned, or NULL. */
static int
test_load(struct config *conf, const char *text, char **cause)
{
	int	r;

	*cause = NULL;
	if (test_write(text, strlen(text)) != 0) {
		fprintf(stderr, "cannot write temporary file\n");
		exit(1);
	}
	r = config_load(conf, test_path, 1, cause);
	unlink(test_path);
	return (r);
}

static int
test_contains(const char *cause, const char *what)
{
	return (cause != NULL && strstr(cause, what) != NULL);
}

static void
test_defaults(void)
{
	struct config	conf;

	memset(&conf, 0xa5, sizeof conf);
	config_defaults(&conf);
	CHECK(strcmp(conf.socket_path, "/run/tokend/tokend.sock") == 0,
	    "default socket_path");
	CHECK(strcmp(conf.db_dir, "/var/lib/tokend") == 0, "default db_dir");
	CHECK(strcmp(conf.key_file, "/var/lib/tokend/hash.key") == 0,
	    "default key_file");
	CHECK(strcmp(conf.pam_service, "tokend") == 0, "default pam_service");
	CHECK(conf.pam_confdir[0] == '\0', "default pam_confdir");
	CHECK(conf.admin_group[0] == '\0', "default admin_group");
	CHECK(conf.verifier_group[0] == '\0', "default verifier_group");
	CHECK(conf.max_connections == 1024, "default max_connections");
	CHECK(conf.max_connections_per_uid == 64,
	    "default max_connections_per_uid");
	CHECK(conf.max_frame == 16384, "default max_frame");
	CHECK(conf.idle_timeout == 60, "default idle_timeout");
	CHECK(conf.pam_timeout == 120, "default pam_timeout");
	CHECK(conf.max_pam_helpers == 16, "default max_pam_helpers");
	CHECK(conf.pam_serialize == 0, "default pam_serialize");
	CHECK(conf.max_pam_per_uid == 1, "default max_pam_per_uid");
	CHECK(conf.max_pam_queued_per_uid == 2, "default max_pam_queued_per_uid");
	CHECK(conf.account_recheck == 60, "default account_recheck");
	CHECK(conf.lookup_timeout == 10, "default lookup_timeout");
	CHECK(conf.fail_delay_ms == 2000, "default fail_delay_ms");
	CHECK(conf.refresh_default == 90 * 86400, "default refresh_default");
	CHECK(conf.refresh_max == 365 * 86400, "default refresh_max");
	CHECK(conf.access_default == 300, "default access_default");
	CHECK(conf.access_max == 3600, "default access_max");
	CHECK(conf.max_tokens_per_user == 50, "default max_tokens_per_user");
	CHECK(conf.map_size == 1024ULL * 1024 * 1024, "default map_size");
	CHECK(conf.purge_interval == 3600, "default purge_interval");
	CHECK(conf.last_used_flush == 60, "default last_used_flush");
	CHECK(conf.answer_cache == 1, "default answer_cache");
}

static void
test_duration(void)
{
	static const char *bad[] = {
		"", "d", "-5", "+5", " 5", "5 ", "5x", "5dd", "1.5h", "5d3h",
		"0x10", "9223372036854775808", "106751991167301d",
		"99999999999999999999999", "153722867280912931m",
	};
	int64_t	v;
	size_t	i;

	CHECK(duration_parse("90d", &v) == 0 && v == 7776000, "90d");
	CHECK(duration_parse("12h", &v) == 0 && v == 43200, "12h");
	CHECK(duration_parse("5m", &v) == 0 && v == 300, "5m");
	CHECK(duration_parse("30s", &v) == 0 && v == 30, "30s");
	CHECK(duration_parse("30", &v) == 0 && v == 30, "30");
	CHECK(duration_parse("0", &v) == 0 && v == 0, "0");
	CHECK(duration_parse("2D", &v) == 0 && v == 172800, "2D");
	CHECK(duration_parse("9223372036854775807", &v) == 0 &&
	    v == INT64_MAX, "INT64_MAX seconds");
	CHECK(duration_parse("106751991167300d", &v) == 0 &&
	    v == 106751991167300LL * 86400, "largest day count");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 12345;
		if (duration_parse(bad[i], &v) == 0 || v != 12345)
			fprintf(stderr, "duration '%s' accepted\n", bad[i]);
		CHECK(duration_parse(bad[i], &v) == -1 && v == 12345,
		    "bad duration refused, output untouched");
	}
	CHECK(duration_parse(NULL, &v) == -1, "NULL duration");
	CHECK(duration_parse("2w", &v) == 0 && v == 14 * 86400, "2w");
	CHECK(duration_parse("1W", &v) == 0 && v == 7 * 86400, "1W");
}

static void
test_duration_relative(void)
{
	static const struct { int64_t d; const char *text; } t[] = {
		{ 0, "now" }, { 1, "in 1 second" }, { -1, "1 second ago" },
		{ 89, "in 89 seconds" }, { 90, "in 2 minutes" },
		{ 89 * 60 + 29, "in 89 minutes" }, { 90 * 60, "in 2 hours" },
		{ 35 * 3600, "in 35 hours" }, { 36 * 3600, "in 2 days" },
		/* What a new admin saw: 7d and 30d read back as 6 and 29. */
		{ 7 * 86400 - 3, "in 7 days" }, { 30 * 86400 - 60, "in 30 days" },
		/* And list and login warning disagreed on 2.9 days. */
		{ 2 * 86400 + 21 * 3600, "in 3 days" },
		{ 2 * 86400 + 11 * 3600, "in 2 days" },
		{ -3 * 86400, "3 days ago" },
	};
	char	buf[48];
	size_t	i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		duration_relative(1800000000 + t[i].d, 1800000000, buf,
		    sizeof(buf));
		if (strcmp(buf, t[i].text) != 0)
			fprintf(stderr, "relative %lld: '%s', want '%s'\n",
			    (long long)t[i].d, buf, t[i].text);
		CHECK(strcmp(buf, t[i].text) == 0, "duration_relative");
	}
	CHECK(strcmp(duration_relative(0, 1800000000, buf, sizeof(buf)),
	    "never") == 0, "duration_relative: 0 is never");
}

static void
test_duration_format(void)
{
	static const struct { int64_t secs; const char *text; } t[] = {
		{ 0, "0s" }, { 30, "30s" }, { 90, "90s" }, { 300, "5m" },
		{ 5400, "90m" }, { 3600, "1h" }, { 86400, "1d" },
		{ 14 * 86400, "14d" }, { 30 * 86400, "30d" }, { 86401, "86401s" },
	};
	char	buf[32];
	int64_t	back;
	size_t	i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		CHECK(strcmp(duration_format(t[i].secs, buf, sizeof(buf)),
		    t[i].text) == 0, "duration_format");
		CHECK(duration_parse(buf, &back) == 0 && back == t[i].secs,
		    "duration_format reads back");
	}
}

static void
test_size(void)
{
	static const char *bad[] = {
		"", "k", "-1", "+1", " 1", "1 ", "1.5G", "1Q", "1GB", "1kk",
		"0x100", "18446744073709551616", "16777216T",
		"99999999999999999999999",
	};
	uint64_t	v;
	size_t		i;

	CHECK(config_parse_size("4096", &v) == 0 && v == 4096, "4096");
	CHECK(config_parse_size("64k", &v) == 0 && v == 65536, "64k");
	CHECK(config_parse_size("64K", &v) == 0 && v == 65536, "64K");
	CHECK(config_parse_size("512M", &v) == 0 && v == 512ULL << 20,
	    "512M");
	CHECK(config_parse_size("512m", &v) == 0 && v == 512ULL << 20,
	    "512m");
	CHECK(config_parse_size("1G", &v) == 0 && v == 1ULL << 30, "1G");
	CHECK(config_parse_size("1g", &v) == 0 && v == 1ULL << 30, "1g");
	CHECK(config_parse_size("2T", &v) == 0 && v == 2ULL << 40, "2T");
	CHECK(config_parse_size("0", &v) == 0 && v == 0, "0");
	CHECK(config_parse_size("18446744073709551615", &v) == 0 &&
	    v == UINT64_MAX, "UINT64_MAX");
	CHECK(config_parse_size("16777215T", &v) == 0 &&
	    v == 16777215ULL << 40, "largest T count");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 12345;
		if (config_parse_size(bad[i], &v) == 0 || v != 12345)
			fprintf(stderr, "size '%s' accepted\n", bad[i]);
		CHECK(config_parse_size(bad[i], &v) == -1 && v == 12345,
		    "bad size refused, output untouched");
	}
}

static void
test_set(void)
{
	struct config	 conf, saved;
	char		*cause = NULL;
	char		 longpath[PATH_MAX + 16];

	config_defaults(&conf);

	CHECK(config_set(&conf, "idle_timeout", "5m", &cause) == 0 &&
	    conf.idle_timeout == 300, "set idle_timeout 5m");
	CHECK(config_set(&conf, "fail_delay_ms", "0", &cause) == 0 &&
	    conf.fail_delay_ms == 0, "set fail_delay_ms 0");
	CHECK(config_set(&conf, "max_frame", "64k", &cause) == 0 &&
	    conf.max_frame == 65536, "set max_frame 64k");
	CHECK(config_set(&conf, "map_size", "512M", &cause) == 0 &&
	    conf.map_size == 512ULL << 20, "set map_size 512M");
	CHECK(config_set(&conf, "refresh_max", "3650d", &cause) == 0 &&
	    conf.refresh_max == 3650LL * 86400, "set refresh_max 3650d");
	CHECK(config_set(&conf, "account_recheck", "0", &cause) == 0 &&
	    conf.account_recheck == 0, "account_recheck 0 turns it off");
	CHECK(config_set(&conf, "account_recheck", "5m", &cause) == 0 &&
	    conf.account_recheck == 300, "set account_recheck 5m");
	CHECK(config_set(&conf, "max_pam_queued_per_uid", "0", &cause) == 0 &&
	    conf.max_pam_queued_per_uid == 0, "max_pam_queued_per_uid 0: no queue");
	CHECK(config_set(&conf, "verify_fail_burst", "4", &cause) == 0,
	    "the retired verify_fail_burst is still read");
	CHECK(config_set(&conf, "pam_serialize", "yes", &cause) == 0 &&
	    conf.pam_serialize == 1, "set pam_serialize yes");
	CHECK(config_set(&conf, "pam_serialize", "FALSE", &cause) == 0 &&
	    conf.pam_serialize == 0, "set pam_serialize FALSE");
	CHECK(config_set(&conf, "pam_serialize", "1", &cause) == 0 &&
	    conf.pam_serialize == 1, "set pam_serialize 1");
	CHECK(config_set(&conf, "socket_path", "/tmp/x.sock", &cause) == 0 &&
	    strcmp(conf.socket_path, "/tmp/x.sock") == 0, "set socket_path");
	CHECK(config_set(&conf, "pam_confdir", "", &cause) == 0 &&
	    conf.pam_confdir[0] == '\0', "set pam_confdir empty");
	CHECK(config_set(&conf, "pam_confdir", "/tmp/pam", &cause) == 0 &&
	    strcmp(conf.pam_confdir, "/tmp/pam") == 0, "set pam_confdir");
	CHECK(config_set(&conf, "admin_group", "wheel", &cause) == 0 &&
	    strcmp(conf.admin_group, "wheel") == 0, "set admin_group");
	CHECK(config_set(&conf, "admin_group", "", &cause) == 0 &&
	    conf.admin_group[0] == '\0', "set admin_group empty");

	saved = conf;
#define REFUSE(k, v, msg) do {						\
	cause = NULL;							\
	CHECK(config_set(&conf, (k), (v), &cause) == -1, msg);		\
	CHECK(cause != NULL, msg " has a cause");			\
	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,			\
	    msg " leaves config alone");				\
	free(cause);							\
} while (0)
	REFUSE("nonsense", "1", "unknown key");
	REFUSE("Idle_Timeout", "1", "keys are case-sensitive");
	REFUSE("idle_timeout", "abc", "junk duration");
	REFUSE("idle_timeout", "0", "idle_timeout 0");
	REFUSE("idle_timeout", "2d", "idle_timeout above one day");
	REFUSE("idle_timeout", "-1", "negative idle_timeout");
	REFUSE("idle_timeout", "", "empty idle_timeout");
	REFUSE("pam_timeout", "61m", "pam_timeout above one hour");
	REFUSE("max_connections", "0", "max_connections 0");
	REFUSE("max_connections", "65537", "max_connections too big");
	REFUSE("max_connections", "4294967296", "max_connections overflow");
	REFUSE("max_connections", "1k", "max_connections with suffix");
	REFUSE("max_connections_per_uid", "0", "per-uid 0");
	REFUSE("max_frame", "255", "max_frame too small");
	REFUSE("max_frame", "65537", "max_frame above protocol max");
	REFUSE("max_pam_helpers", "1025", "max_pam_helpers too big");
	REFUSE("max_pam_per_uid", "0", "max_pam_per_uid 0");
	REFUSE("max_pam_queued_per_uid", "1025", "max_pam_queued_per_uid too big");
	REFUSE("account_recheck", "2d", "account_recheck above one day");
	REFUSE("lookup_timeout", "0", "lookup_timeout 0");
	REFUSE("fail_delay_ms", "10001", "fail_delay_ms too big");
	REFUSE("fail_delay_ms", "2s", "fail_delay_ms is plain ms");
	REFUSE("pam_serialize", "maybe", "bad bool");
	REFUSE("refresh_default", "59", "refresh_default under a minute");
	REFUSE("refresh_max", "3651d", "refresh_max over ten years");
	REFUSE("access_max", "25h", "access_max over one day");
	REFUSE("access_default", "0", "access_default 0");
	REFUSE("max_tokens_per_user", "100001", "max_tokens_per_user");
	REFUSE("map_size", "1023k", "map_size under 1 MiB");
	REFUSE("map_size", "1X", "map_size junk");
	REFUSE("purge_interval", "9", "purge_interval under 10s");
	REFUSE("last_used_flush", "61", "last_used_flush over 60s");
	REFUSE("last_used_flush", "0", "last_used_flush 0");
	REFUSE("answer_cache", "sometimes", "bad answer_cache");
	CHECK(config_set(&conf, "answer_cache", "no", &cause) == 0 &&
	    conf.answer_cache == 0, "set answer_cache no");
	CHECK(config_set(&conf, "answer_cache", "yes", &cause) == 0 &&
	    conf.answer_cache == 1, "set answer_cache yes");
	REFUSE("socket_path", "relative.sock", "relative socket_path");
	REFUSE("socket_path", "", "empty socket_path");
	REFUSE("db_dir", "var/lib", "relative db_dir");
	REFUSE("key_file", "key", "relative key_file");
	REFUSE("pam_confdir", "pam.d", "relative pam_confdir");
	REFUSE("pam_service", "", "empty pam_service");
	REFUSE("pam_service", "../passwd", "pam_service with slash");
	REFUSE("admin_group", "wh\neel", "control character");
	REFUSE("admin_group",
	    "a123456789b123456789c123456789d123456789e123456789f123456789wxyz",
	    "admin_group too long");
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	REFUSE("db_dir", longpath, "db_dir too long");
#undef REFUSE

	cause = NULL;
	config_set(&conf, "idle_timeout", "abc", &cause);
	CHECK(test_contains(cause, "bad value for idle_timeout: 'abc'"),
	    "bad value message");
	free(cause);
	cause = NULL;
	config_set(&conf, "bogus", "1", &cause);
	CHECK(test_contains(cause, "unknown key 'bogus'"),
	    "unknown key message");
	free(cause);
	CHECK(config_set(&conf, "bogus", "1", NULL) == -1,
	    "NULL cause accepted");
}

static void
test_file(void)
{
	struct config	 conf;
	char		*cause;
	char		 line[5000];
	int		 r;

	config_defaults(&conf);
	r = test_load(&conf,
	    "# tokend.conf\n"
	    "\n"
	    "   # indented comment\n"
	    "socket_path = /tmp/t/tokend.sock\n"
	    "db_dir=/tmp/t/db\n"
	    "\tkey_file\t=\t\"/tmp/t/hash.key\"   # quoted, then a comment\n"
	    "pam_service = \"tokend-test\"\n"
	    "pam_confdir = \"/tmp/t/pam #1\"\n"
	    "admin_group = \"\"\n"
	    "verifier_group = web#1 # '#' inside a word is kept\n"
	    "max_connections = 100\r\n"
	    "max_connections_per_uid = 10    \n"
	    "max_frame = 32k\n"
	    "idle_timeout = 2m\n"
	    "pam_timeout = 30s\n"
	    "max_pam_helpers = 4\n"
	    "pam_serialize = yes\n"
	    "fail_delay_ms = 500\n"
	    "refresh_default = 30d\n"
	    "refresh_max = 60d\n"
	    "access_default = 10m\n"
	    "access_max = 2h\n"
	    "max_tokens_per_user = 5\n"
	    "map_size = 64M\n"
	    "purge_interval = 5m\n"
	    "last_used_flush = 30\n"
	    "   \n"
	    "# last line has no newline\n"
	    "idle_timeout = 90", &cause);
	CHECK(r == 0, "full file loads");
	if (r != 0)
		fprintf(stderr, "cause: %s\n", cause);
	free(cause);
	CHECK(strcmp(conf.socket_path, "/tmp/t/tokend.sock") == 0,
	    "file socket_path");
	CHECK(strcmp(conf.db_dir, "/tmp/t/db") == 0, "file db_dir");
	CHECK(strcmp(conf.key_file, "/tmp/t/hash.key") == 0,
	    "file key_file (quoted, tabs, comment)");
	CHECK(strcmp(conf.pam_service, "tokend-test") == 0,
	    "file pam_service");
	CHECK(strcmp(conf.pam_confdir, "/tmp/t/pam #1") == 0,
	    "file pam_confdir: '#' inside quotes kept");
	CHECK(conf.admin_group[0] == '\0', "file admin_group empty quotes");
	CHECK(strcmp(conf.verifier_group, "web#1") == 0,
	    "file verifier_group: '#' inside word kept");
	CHECK(conf.max_connections == 100, "file max_connections (CRLF)");
	CHECK(conf.max_connections_per_uid == 10,
	    "file max_connections_per_uid");
	CHECK(conf.max_frame == 32768, "file max_frame");
	CHECK(conf.idle_timeout == 90, "file idle_timeout: last one wins");
	CHECK(conf.pam_timeout == 30, "file pam_timeout");
	CHECK(conf.max_pam_helpers == 4, "file max_pam_helpers");
	CHECK(conf.pam_serialize == 1, "file pam_serialize");
	CHECK(conf.fail_delay_ms == 500, "file fail_delay_ms");
	CHECK(conf.refresh_default == 30 * 86400, "file refresh_default");
	CHECK(conf.refresh_max == 60 * 86400, "file refresh_max");
	CHECK(conf.access_default == 600, "file access_default");
	CHECK(conf.access_max == 7200, "file access_max");
	CHECK(conf.max_tokens_per_user == 5, "file max_tokens_per_user");
	CHECK(conf.map_size == 64ULL << 20, "file map_size");
	CHECK(conf.purge_interval == 300, "file purge_interval");
	CHECK(conf.last_used_flush == 30, "file last_used_flush");

	/* Cross-field rules are checked after the whole file. */
	config_defaults(&conf);
	r = test_load(&conf, "refresh_default = 400d\nrefresh_max = 500d\n",
	    &cause);
	CHECK(r == 0 && conf.refresh_default == 400LL * 86400 &&
	    conf.refresh_max == 500LL * 86400,
	    "cross-field rule does not depend on order");
	free(cause);

	/* An empty file and a comment-only file change nothing. */
	{
		struct config	before;

		config_defaults(&conf);
		before = conf;
		CHECK(test_load(&conf, "", &cause) == 0 &&
		    memcmp(&conf, &before, sizeof conf) == 0, "empty file");
		free(cause);
		CHECK(test_load(&conf, "# nothing\n\n", &cause) == 0 &&
		    memcmp(&conf, &before, sizeof conf) == 0,
		    "comment-only file");
		free(cause);
	}

	/* A line of exactly 4096 bytes is fine; 4097 is not. */
	memset(line, ' ', sizeof line);
	line[0] = '#';
	line[4096] = '\n';
	line[4097] = '\0';
	CHECK(test_load(&conf, line, &cause) == 0, "4096-byte line");
	free(cause);
	line[4096] = ' ';
	line[4097] = '\n';
	line[4098] = '\0';
	CHECK(test_load(&conf, line, &cause) == -1 &&
	    test_contains(cause, ":1: line too long"), "4097-byte line");
	free(cause);
}

static void
test_file_errors(void)
{
	struct config	 conf, saved;
	char		*cause, *want;
	int		 r;

	config_defaults(&conf);
	CHECK(test_load(&conf, "idle_timeout = 30\n", &cause) == 0,
	    "good file");
	free(cause);
	saved = conf;

	r = test_load(&conf, "# comment\n\nbogus = 1\n", &cause);
	CHECK(r == -1, "unknown key refused");
	if (asprintf(&want, "%s:3: unknown key 'bogus'", test_path) == -1)
		exit(1);
	CHECK(cause != NULL && strcmp(cause, want) == 0,
	    "unknown key cause names file and line");
	if (cause != NULL && strcmp(cause, want) != 0)
		fprintf(stderr, "cause: %s\n", cause);
	free(want);
	free(cause);
	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,
	    "unknown key leaves config alone");

	r = test_load(&conf,
	    "max_connections = 10\n"
	    "pam_serialize = yes\n"
	    "socket_path = /tmp/other.sock\n"
	    "idle_timeout = abc\n"
	    "max_frame = 1024\n", &cause);
	CHECK(r == -1, "bad value refused");
	if (asprintf(&want, "%s:4: bad value for idle_timeout: 'abc' (a "
	    "duration: seconds, or a number with s, m, h, d or w: 300, 5m, "
	    "12h, 30d)", test_path) == -1)
		exit(1);
	CHECK(cause != NULL && strcmp(cause, want) == 0,
	    "bad value cause names file, line, key and value");
	if (cause != NULL && strcmp(cause, want) != 0)
		fprintf(stderr, "cause: %s\n", cause);
	free(want);
	free(cause);
	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,
	    "bad value: earlier good lines not applied");

	r = test_load(&conf, "refresh_default = 400d\n", &cause);
	CHECK(r == -1 && test_contains(cause, "refresh_default") &&
	    test_contains(cause, "refresh_max"),
	    "refresh_default > refresh_max refused");
	free(cause);
	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,
	    "cross-field failure leaves config alone");

	r = test_load(&conf, "access_default = 2h\n", &cause);
	CHECK(r == -1 && test_contains(cause, "access_max"),
	    "access_default > access_max refused");
	free(cause);

	r = test_load(&conf, "max_connections = 32\n", &cause);
	CHECK(r == -1 && test_contains(cause, "max_connections_per_uid"),
	    "max_connections below per-uid limit refused");
	free(cause);

	r = test_load(&conf, "idle_timeout 30\n", &cause);
	CHECK(r == -1 && test_contains(cause, ":1: expected 'key = value'"),
	    "line without '='");
	free(cause);

	r = test_load(&conf, "\n = 30\n", &cause);
	CHECK(r == -1 && test_contains(cause, ":2: missing key"),
	    "line without key");
	free(cause);

	r = test_load(&conf, "db_dir = \"/tmp/x\n", &cause);
	CHECK(r == -1 && test_contains(cause, ":1: missing closing quote"),
	    "unterminated quote");
	free(cause);

	r = test_load(&conf, "db_dir = \"/tmp/x\" junk\n", &cause);
	CHECK(r == -1 && test_contains(cause, "after closing quote"),
	    "junk after quote");
	free(cause);

	r = test_load(&conf, "db_dir = relative\n", &cause);
	CHECK(r == -1 && test_contains(cause, "absolute path"),
	    "relative path in file");
	free(cause);

	r = test_load(&conf, "max_frame = 1k # ok\nidle_timeout = 30 s\n",
	    &cause);
	CHECK(r == -1 && test_contains(cause, ":2: bad value for "
	    "idle_timeout: '30 s'"), "space inside a duration");
	free(cause);

	CHECK(test_write("idle_timeout = 7\nx\0y = 1\n", 25) == 0,
	    "write file with a NUL byte");
	cause = NULL;
	r = config_load(&conf, test_path, 1, &cause);
	unlink(test_path);
	CHECK(r == -1 && test_contains(cause, ":2: NUL byte"),
	    "NUL byte refused");
	free(cause);

	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,
	    "config still untouched after all failures");
}

static void
test_missing(void)
{
	struct config	 conf, saved;
	char		*cause = NULL;
	const char	*path = "/nonexistent/tokend-test/tokend.conf";

	config_defaults(&conf);
	conf.idle_timeout = 42;
	saved = conf;
	CHECK(config_load(&conf, path, 0, &cause) == 0 && cause == NULL,
	    "missing file, must_exist 0");
	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,
	    "missing file leaves config alone");
	CHECK(config_load(&conf, path, 1, &cause) == -1 &&
	    test_contains(cause, path), "missing file, must_exist 1");
	free(cause);
	CHECK(memcmp(&conf, &saved, sizeof conf) == 0,
	    "missing file (must_exist) leaves config alone");

	cause = NULL;
	CHECK(config_load(&conf, "/", 0, &cause) == -1 && cause != NULL,
	    "a directory is an error");
	free(cause);
}

static void
test_group(void)
{
	gid_t	gid = 12345;

	CHECK(config_group_gid("root", &gid) == 0 && gid == 0, "group root");
	gid = 12345;
	CHECK(config_group_gid("no-such-group-tokend-test", &gid) == -1 &&
	    gid == 12345, "unknown group");
	CHECK(config_group_gid("", &gid) == -1, "empty group name");
}

int
main(void)
{
	test_defaults();
	test_duration();
	test_duration_format();
	test_duration_relative();
	test_size();
	test_set();
	test_file();
	test_file_errors();
	test_missing();
	test_group();
	return (check_summary("config"));
}
