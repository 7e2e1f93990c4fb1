/* SPDX-License-Identifier: ISC */
/*
 * tokenctl exchange as a credential helper for scripts: the refresh token
 * from a file only its owner can read (--token-file), and the access token
 * kept until shortly before it expires (--cache), so that
 *
 *	curl -H "Authorization: Bearer $(tokenctl exchange --token-file F --cache)"
 *
 * costs one EXCHANGE per access token lifetime, not one per call.
 *
 * The cache is $XDG_RUNTIME_DIR/tokend (0700, the user's tmpfs): one file
 * (0600) per refresh token, scopes and lifetime, named by a BLAKE2b hash of
 * them, so only the exact refresh token finds its access token and the
 * name says nothing of the secret.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tokenctl.h"

#define CREDCACHE_MARGIN	30	/* seconds before expiry: a new one */
#define CREDCACHE_FILE_MAX	(OUTPUT_SCOPES_SIZE + TOKEND_TOKEN_SIZE + 32)

int
credcache_read_file(const char *path, char **token, const char **cause)
{
	struct stat	 st;
	char		 buf[CREDCACHE_FILE_MAX + 1], *start, *end;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	*token = NULL;
	/* O_NONBLOCK: a FIFO put there must not hang us before the check. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		*cause = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*cause = "not a regular file";
		goto fail;
	}
	if (st.st_uid != getuid()) {
		*cause = "not owned by you";
		goto fail;
	}
	if ((st.st_mode & 077) != 0) {
		*cause = "readable or writable by group or others "
		    "(chmod 600 it)";
		goto fail;
	}
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	fd = -1;
	buf[len] = '\0';
	for (start = buf; *start == ' ' || *start == '\t' || *start == '\n' ||
	    *start == '\r'; start++)
		;
	end = start + strcspn(start, " \t\r\n");
	*end = '\0';
	if (*start == '\0' || len == sizeof(buf) - 1) {
		*cause = *start == '\0' ? "empty" : "too long to hold a token";
		goto fail;
	}
	if ((*token = strdup(start)) == NULL)
		*cause = "out of memory";
	tokend_wipe(buf, sizeof(buf));
	return *token != NULL ? 0 : -1;
fail:
	tokend_wipe(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	return -1;
}

/*
 * $XDG_RUNTIME_DIR/tokend, made 0700 if missing, opened (never through a
 * symbolic link) and checked on the descriptor: the files in it are then
 * reached only relative to it.  The descriptor, or -1 and *cause.
 */
static int
credcache_dir(const char **cause)
{
	const char	*run = getenv("XDG_RUNTIME_DIR");
	struct stat	 st;
	char		 dir[512];
	int		 fd;

	if (run == NULL || *run != '/') {
		*cause = "--cache needs $XDG_RUNTIME_DIR (set by a login "
		    "session)";
		return -1;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/tokend", run) >=
	    sizeof(dir)) {
		*cause = "$XDG_RUNTIME_DIR is too long";
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		*cause = strerror(errno);
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1 ||
	    st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		if (fd != -1)
			close(fd);
		*cause = "$XDG_RUNTIME_DIR/tokend is not a directory of yours "
		    "that only you can use";
		return -1;
	}
	return fd;
}

/* The cache file's name for this refresh token, scopes and lifetime. */
static int
credcache_name(const char *refresh, const char *const *scopes, unsigned n,
    uint32_t lifetime, char *name, size_t size, const char **cause)
{
	crypto_generichash_state	st;
	unsigned char			h[16];
	char				hex[2 * sizeof(h) + 1];
	unsigned			i;

	if (sodium_init() < 0) {
		*cause = "libsodium failed to initialise";
		return -1;
	}
	crypto_generichash_init(&st, (const unsigned char *)"tokenctl-cache",
	    14, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)refresh,
	    strlen(refresh) + 1);
	crypto_generichash_update(&st, (const unsigned char *)&lifetime,
	    sizeof(lifetime));
	for (i = 0; i < n; i++)
		crypto_generichash_update(&st, (const unsigned char *)scopes[i],
		    strlen(scopes[i]) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(name, size, "access-%s", hex);
	return 0;
}

int
credcache_get(const char *refresh, const char *const *scopes, unsigned n,
    uint32_t lifetime, int64_t now, struct credcache_entry *e,
    const char **cause)
{
	char		 name[64], buf[CREDCACHE_FILE_MAX + 1], *nl, *nl2;
	long long	 exp;
	ssize_t		 len;
	int		 dfd, fd;

	if (credcache_name(refresh, scopes, n, lifetime, name, sizeof(name),
	    cause) == -1 || (dfd = credcache_dir(cause)) == -1)
		return -1;
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1) {
		close(dfd);
		return 0;		/* nothing cached */
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0) {
		close(dfd);
		return 0;
	}
	buf[len] = '\0';
	/* "<expiry>\n<granted scopes>\n<access token>\n" */
	if ((nl = strchr(buf, '\n')) == NULL ||
	    (nl2 = strchr(nl + 1, '\n')) == NULL ||
	    sscanf(buf, "%lld", &exp) != 1 || exp - CREDCACHE_MARGIN <= now ||
	    (size_t)(nl2 - nl - 1) >= sizeof(e->scope) ||
	    strcspn(nl2 + 1, "\n") == 0 ||
	    strcspn(nl2 + 1, "\n") >= sizeof(e->access)) {
		tokend_wipe(buf, sizeof(buf));
		unlinkat(dfd, name, 0);	/* stale or damaged: ask again */
		close(dfd);
		return 0;
	}
	close(dfd);
	e->expires = exp;
	*nl2 = '\0';
	snprintf(e->scope, sizeof(e->scope), "%s", nl + 1);
	nl2[1 + strcspn(nl2 + 1, "\n")] = '\0';
	snprintf(e->access, sizeof(e->access), "%s", nl2 + 1);
	tokend_wipe(buf, sizeof(buf));
	return 1;
}

int
credcache_put(const char *refresh, const char *const *scopes, unsigned n,
    uint32_t lifetime, const struct credcache_entry *e, const char **cause)
{
	char	name[64], tmp[96], buf[CREDCACHE_FILE_MAX + 1];
	int	dfd, fd, len, ok;

	if (credcache_name(refresh, scopes, n, lifetime, name, sizeof(name),
	    cause) == -1 || (dfd = credcache_dir(cause)) == -1)
		return -1;
	len = snprintf(buf, sizeof(buf), "%" PRId64 "\n%s\n%s\n", e->expires,
	    e->scope, e->access);
	if (len < 0 || (size_t)len >= sizeof(buf)) {
		*cause = "access token too long";
		close(dfd);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.%ld", name, (long)getpid());
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		*cause = strerror(errno);
		tokend_wipe(buf, sizeof(buf));
		close(dfd);
		return -1;
	}
	ok = write(fd, buf, (size_t)len) == len;
	ok = close(fd) == 0 && ok;
	tokend_wipe(buf, sizeof(buf));
	if (!ok || renameat(dfd, tmp, dfd, name) == -1) {
		*cause = strerror(errno);
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
}
