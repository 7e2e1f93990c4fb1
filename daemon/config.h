/* SPDX-License-Identifier: ISC */
/*
 * tokend.conf: "key = value" lines, '#' comments.  Every limit the daemon
 * enforces is a field of struct config, with its default defined below.
 */
#ifndef TOKEND_CONFIG_H
#define TOKEND_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TOKEND_CONF_FILE	"/etc/tokend/tokend.conf"
#define TOKEND_SOCKET_PATH	"/run/tokend/tokend.sock"
#define TOKEND_DB_DIR		"/var/lib/tokend"
#define TOKEND_KEY_FILE		"/var/lib/tokend/hash.key"
#define TOKEND_PAM_SERVICE	"tokend"
#define TOKEND_USER		"tokend"	/* the engine's user */
#define TOKEND_OTP_DIR		"/etc/tokend/oath"
#define TOKEND_ENROLL_SERVICE	"tokend-enroll"	/* PAM for a first OTP enrolment */

/*
 * Every limit's default, in one place; tokend.conf(5) and
 * packaging/tokend.conf document the same values.  Times in seconds.
 */
#define TOKEND_DEF_MAX_CONNECTIONS            1024
#define TOKEND_DEF_MAX_CONNECTIONS_PER_UID    64
#define TOKEND_DEF_MAX_FRAME                  TOKEND_REQUEST_MAX	/* proto.h */
#define TOKEND_DEF_IDLE_TIMEOUT               60
#define TOKEND_DEF_PAM_TIMEOUT                120
#define TOKEND_DEF_MAX_PAM_HELPERS            16
#define TOKEND_DEF_MAX_PAM_PER_UID            1
#define TOKEND_DEF_MAX_PAM_QUEUED_PER_UID     2
#define TOKEND_DEF_PAM_SERIALIZE              0
#define TOKEND_DEF_ACCOUNT_RECHECK            60
#define TOKEND_DEF_LOOKUP_TIMEOUT             10
#define TOKEND_DEF_FAIL_DELAY_MS              2000
#define TOKEND_DEF_REFRESH_DEFAULT            (90 * 86400)
#define TOKEND_DEF_REFRESH_MAX                (365 * 86400)
#define TOKEND_DEF_ACCESS_DEFAULT             (5 * 60)
#define TOKEND_DEF_ACCESS_MAX                 3600
#define TOKEND_DEF_ROTATE_OVERLAP_MAX         3600
#define TOKEND_DEF_MAX_TOKENS_PER_USER        50
#define TOKEND_DEF_EXCHANGE_FAIL_BURST        10
#define TOKEND_DEF_EXCHANGE_FAIL_PER_MINUTE   10
#define TOKEND_DEF_VERIFY_FAIL_BURST          1000
#define TOKEND_DEF_VERIFY_FAIL_PER_MINUTE     60000
#define TOKEND_DEF_AUTH_FAIL_BURST            5
#define TOKEND_DEF_AUTH_FAIL_PER_MINUTE       1
#define TOKEND_DEF_MAP_SIZE                   (1ULL << 30)
#define TOKEND_DEF_PURGE_INTERVAL             3600
#define TOKEND_DEF_LAST_USED_FLUSH            60
#define TOKEND_DEF_ANSWER_CACHE               1
#define TOKEND_DEF_ANSWER_CACHE_SIZE          262144
#define TOKEND_DEF_FLEET_MAX_STALENESS        30

struct config {
	/* paths (flags override; a reload does not move them) */
	char		socket_path[PATH_MAX];
	char		db_dir[PATH_MAX];
	char		key_file[PATH_MAX];
	char		pam_service[64];
	char		pam_confdir[PATH_MAX];	/* "" = the system's /etc/pam.d */

	/* who */
	char		user[64];		/* the engine runs as this user */
	char		admin_group[64];	/* "" = root only */
	char		verifier_group[64];	/* "" = root only */

	/* connection limits */
	unsigned	max_connections;	/* 1024 */
	unsigned	max_connections_per_uid;/* 64 */
	unsigned	max_frame;		/* request body bytes, 16384 */
	unsigned	idle_timeout;		/* seconds, 60 */

	/* PAM */
	unsigned	pam_timeout;		/* seconds per conversation step, 120 */
	unsigned	max_pam_helpers;	/* concurrent helpers, 16 */
	unsigned	max_pam_per_uid;	/* running per caller uid (root: no cap), 1 */
	unsigned	max_pam_queued_per_uid;	/* waiting per caller uid, 2 */
	int		pam_serialize;		/* one helper at a time (shared pam_oath file) */
	unsigned	fail_delay_ms;		/* delay before reporting a failed auth, 2000 */

	/* the store: one host (LMDB) or a fleet (PostgreSQL, fleet.h) */
	char		store[16];		/* "lmdb" or "postgresql" */
	char		postgresql[1024];	/* libpq conninfo; no secrets (passfile=) */
	unsigned	fleet_max_staleness;	/* seconds without the database, 30 */

	/* one-time codes (otp.h) */
	int		otp_enroll;		/* tokenctl otp enroll is allowed, no */
	char		otp_dir[PATH_MAX];	/* USER.oath files, /etc/tokend/oath */

	/* tokens (seconds) */
	int64_t		refresh_default;	/* 90 days */
	int64_t		refresh_max;		/* 365 days */
	int64_t		access_default;		/* 5 minutes */
	int64_t		access_max;		/* 1 hour */
	int64_t		rotate_overlap_max;	/* ROTATE --overlap, 1 hour */
	unsigned	max_tokens_per_user;	/* 50 */

	/* failure rate limits: token buckets; burst 0 turns one off */
	unsigned	exchange_fail_burst;	/* failed EXCHANGEs per caller uid, 10 */
	unsigned	exchange_fail_per_minute;	/* refill, 10 */
	unsigned	verify_fail_burst;	/* no longer used (ratelimit.h says why) */
	unsigned	verify_fail_per_minute;	/* no longer used */
	unsigned	auth_fail_burst;	/* failed PAM authentications per user, 5 */
	unsigned	auth_fail_per_minute;	/* refill, 1 */

	/* accounts (account.h) */
	unsigned	account_recheck;	/* seconds an account check is trusted, 60; 0 off */
	unsigned	lookup_timeout;		/* seconds for one look-up or check, 10 */

	/* store */
	uint64_t	map_size;		/* bytes, 1 GiB */
	unsigned	purge_interval;		/* seconds, 3600 */
	unsigned	last_used_flush;	/* seconds, 60 (at most 60) */
	int		answer_cache;		/* cache VERIFY answers and refresh records, yes */
	unsigned	answer_cache_size;	/* answers kept, a power of two, 262144 */
};

void	 config_defaults(struct config *conf);
/*
 * Parse path into *conf, starting from *conf's current values.  On any
 * error *conf is left untouched, -1 is returned and *cause (malloc'ed)
 * names the file, line and problem.  A missing file is an error only when
 * must_exist is set.
 */
int	 config_load(struct config *conf, const char *path, int must_exist,
	     char **cause);
/* Set one key from its text value (the parser and tests use this). */
int	 config_set(struct config *conf, const char *key, const char *value,
	     char **cause);
/* "90d", "12h", "5m", "30s", "30": seconds.  0 on success. */
/* "1G", "512M", "64k", "4096": bytes.  0 on success. */
int	 config_parse_size(const char *s, uint64_t *bytes);
/* Resolve a group name to a gid; 0 on success, -1 when unknown. */
int	 config_group_gid(const char *name, gid_t *gid);

#endif /* TOKEND_CONFIG_H */
