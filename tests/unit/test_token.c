/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/token.c: the key file (creation, refusals), refresh
 * tokens and their keyed hash, access tokens and their MAC, and the key
 * vectors of protocol/vectors.txt (argv[1], default "protocol/vectors.txt").
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "proto.h"
#include "token.h"
#include "tokenfmt.h"

#define VECTORS_DEFAULT	"protocol/vectors.txt"

static char	tmpdir[PATH_MAX];

static void
path_in(char *buf, size_t size, const char *name)
{
	int	n = snprintf(buf, size, "%s/%s", tmpdir, name);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "path too long: %s/%s\n", tmpdir, name);
		exit(1);
	}
}

/* Write n bytes to path with exactly this mode (umask ignored). */
static int
write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int	fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	if ((n > 0 && write(fd, p, n) != (ssize_t)n) || fchmod(fd, mode) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* token_keys_load(); 0 or -1, and *cause freed.  want_cause: a word it must contain. */
static int
load(const char *path, int may_create, struct token_keys **keys,
    const char *want_cause)
{
	char	*cause = NULL;
	int	 rc;

	rc = token_keys_load(path, may_create, keys, &cause);
	if (rc == -1) {
		CHECK(cause != NULL, "a refusal says why");
		CHECK(*keys == NULL, "no keys on failure");
		if (want_cause != NULL && cause != NULL)
			CHECK(strstr(cause, want_cause) != NULL, want_cause);
		if (cause != NULL && getenv("TEST_VERBOSE") != NULL)
			fprintf(stderr, "  (%s)\n", cause);
	}
	free(cause);
	return rc;
}

static void
test_key_file(void)
{
	struct token_keys	*k = NULL;
	struct stat		 st;
	char			 p[PATH_MAX], t[PATH_MAX];
	uint8_t			 key[64];
	mode_t			 old;
	static const mode_t	 bad_modes[] = { 0640, 0604, 0620, 0602, 0610,
	    0601, 0660, 0644, 0666, 0700 | 0070 };
	static const size_t	 bad_sizes[] = { 0, 1, 31, 33, 64 };
	size_t			 i;

	memset(key, 0x42, sizeof(key));

	/* Missing and not allowed to create: refused, nothing created. */
	path_in(p, sizeof(p), "missing.key");
	CHECK(load(p, 0, &k, "missing") == -1, "missing key file refused");
	CHECK(access(p, F_OK) == -1 && errno == ENOENT, "nothing created");

	/* Missing and allowed: created 0600, 32 bytes, even with umask 0. */
	path_in(p, sizeof(p), "new.key");
	old = umask(0);
	CHECK(load(p, 1, &k, NULL) == 0 && k != NULL, "key file created");
	umask(old);
	token_keys_free(k);
	k = NULL;
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode), "a regular file");
	CHECK((st.st_mode & 07777) == 0600, "mode 0600");
	CHECK(st.st_size == TOKEN_KEY_BYTES, "32 bytes");
	CHECK(st.st_uid == geteuid(), "owned by us");
	CHECK(load(p, 0, &k, NULL) == 0 && k != NULL, "created file loads");
	token_keys_free(k);
	k = NULL;
	CHECK(load(p, 1, &k, NULL) == 0 && k != NULL,
	    "an existing file is loaded, not replaced");
	token_keys_free(k);
	k = NULL;
	CHECK(lstat(p, &st) == 0 && st.st_size == TOKEN_KEY_BYTES, "still 32 bytes");

	/* Group or other may not have any access. */
	path_in(p, sizeof(p), "mode.key");
	for (i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		char	what[64];

		snprintf(what, sizeof(what), "mode %04o refused", (unsigned)bad_modes[i]);
		if (write_file(p, key, TOKEN_KEY_BYTES, bad_modes[i]) == -1) {
			CHECK(0, "write key file");
			continue;
		}
		CHECK(load(p, 0, &k, "mode") == -1, what);
		CHECK(load(p, 1, &k, "mode") == -1, what);
	}
	write_file(p, key, TOKEN_KEY_BYTES, 0400);
	CHECK(load(p, 0, &k, NULL) == 0, "mode 0400 is fine");
	token_keys_free(k);
	k = NULL;
	write_file(p, key, TOKEN_KEY_BYTES, 0600);
	CHECK(load(p, 0, &k, NULL) == 0, "mode 0600 is fine");
	token_keys_free(k);
	k = NULL;

	/* Exactly 32 bytes. */
	path_in(p, sizeof(p), "size.key");
	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		write_file(p, key, bad_sizes[i], 0600);
		CHECK(load(p, 0, &k, "bytes") == -1, "wrong size refused");
		CHECK(load(p, 1, &k, "bytes") == -1,
		    "wrong size refused, not replaced");
	}

	/* A symlink, even to a good key file, is refused. */
	path_in(p, sizeof(p), "good.key");
	write_file(p, key, TOKEN_KEY_BYTES, 0600);
	path_in(t, sizeof(t), "link.key");
	CHECK(symlink(p, t) == 0, "symlink");
	CHECK(load(t, 0, &k, NULL) == -1, "symlink refused");
	CHECK(load(t, 1, &k, NULL) == -1, "symlink refused with may_create");
	/* A dangling symlink is not followed to create the target. */
	path_in(p, sizeof(p), "target.key");
	path_in(t, sizeof(t), "dangling.key");
	CHECK(symlink(p, t) == 0, "dangling symlink");
	CHECK(load(t, 1, &k, NULL) == -1, "dangling symlink refused");
	CHECK(access(p, F_OK) == -1, "its target was not created");

	/* A directory. */
	path_in(p, sizeof(p), "dir.key");
	CHECK(mkdir(p, 0700) == 0, "mkdir");
	CHECK(load(p, 0, &k, "regular") == -1, "directory refused");
	CHECK(load(p, 1, &k, NULL) == -1, "directory refused with may_create");

	/* A folder that does not exist. */
	path_in(p, sizeof(p), "nodir/x.key");
	CHECK(load(p, 1, &k, NULL) == -1, "cannot create in a missing folder");

	/* Another owner (only root can make one). */
	if (geteuid() == 0) {
		path_in(p, sizeof(p), "owner.key");
		write_file(p, key, TOKEN_KEY_BYTES, 0600);
		CHECK(chown(p, 65534, 65534) == 0, "chown");
		CHECK(load(p, 0, &k, "owned") == -1, "another owner refused");
	}
}

static void
test_refresh(void)
{
	struct token_keys	*a = NULL, *a2 = NULL, *b = NULL;
	struct token_claims	 c;
	struct tokenfmt		 tf;
	uint8_t			 hash[TOKEN_HASH_BYTES], h2[TOKEN_HASH_BYTES];
	char			 pa[PATH_MAX], pb[PATH_MAX];
	char			 tok[TOKENFMT_MAX_LEN + 1], prev[TOKENFMT_MAX_LEN + 1];
	uint64_t		 id, id2;
	int			 i, ok;

	path_in(pa, sizeof(pa), "a.key");
	path_in(pb, sizeof(pb), "b.key");
	if (load(pa, 1, &a, NULL) == -1 || load(pa, 0, &a2, NULL) == -1 ||
	    load(pb, 1, &b, NULL) == -1) {
		CHECK(0, "load keys");
		return;
	}

	CHECK(token_mint_refresh(a, tok, sizeof(tok), &id, hash) == 0, "mint");
	CHECK(strlen(tok) == TOKENFMT_REFRESH_LEN && strncmp(tok, "tkr_", 4) == 0,
	    "a refresh token's text");
	CHECK(id != 0, "id is never 0");
	CHECK(tokenfmt_parse(tok, strlen(tok), &tf) == 0 &&
	    tf.kind == TOKEN_REFRESH && tokenfmt_load64(tf.payload) == id,
	    "its first block is its id");

	/* Same key file, another load: same hash. */
	CHECK(token_parse(a2, tok, strlen(tok), &c) == 0, "parses");
	CHECK(c.kind == TOKEN_REFRESH && c.rid == id && c.jti == id, "claims");
	CHECK(token_hash_equal(c.hash, hash), "hash matches under the same key");
	/* Another key file: the text parses (no MAC), the hash differs. */
	CHECK(token_parse(b, tok, strlen(tok), &c) == 0, "parses under another key");
	CHECK(!token_hash_equal(c.hash, hash), "hash differs under another key");
	/* The hash covers the secret: another secret, another hash. */
	memcpy(h2, hash, sizeof(h2));
	h2[0] ^= 1;
	CHECK(!token_hash_equal(h2, hash), "hash_equal sees one bit");
	CHECK(token_hash_equal(hash, hash), "hash_equal of itself");
	tf.payload[31] ^= 1;
	tokenfmt_encode(TOKEN_REFRESH, tf.payload, 32, prev, sizeof(prev));
	CHECK(token_parse(a, prev, strlen(prev), &c) == 0 &&
	    c.rid == id && !token_hash_equal(c.hash, hash),
	    "one secret bit changes the hash");

	/* Fresh every time. */
	ok = 1;
	snprintf(prev, sizeof(prev), "%s", tok);
	for (i = 0; i < 200; i++) {
		if (token_mint_refresh(a, tok, sizeof(tok), &id2, h2) != 0 ||
		    id2 == 0 || id2 == id || strcmp(tok, prev) == 0 ||
		    token_hash_equal(h2, hash))
			ok = 0;
		snprintf(prev, sizeof(prev), "%s", tok);
	}
	CHECK(ok, "every mint is new");
	CHECK(token_mint_refresh(a, tok, TOKENFMT_REFRESH_LEN, &id2, h2) == -1,
	    "no room for the token");

	/* Not tokens. */
	CHECK(token_parse(a, "", 0, &c) == -1 && c.kind == 0, "empty refused");
	snprintf(tok, sizeof(tok), "%s", prev);
	tok[10] = tok[10] == 'a' ? 'b' : 'a';
	CHECK(token_parse(a, tok, strlen(tok), &c) == -1, "typo refused");
	CHECK(token_parse(a, prev, strlen(prev) - 1, &c) == -1, "short refused");

	token_keys_free(a);
	token_keys_free(a2);
	token_keys_free(b);
}

static void
test_access(void)
{
	struct token_keys	*a = NULL, *a2 = NULL, *b = NULL;
	struct token_claims	 c;
	struct tokenfmt		 tf, orig;
	char			 pa[PATH_MAX], pb[PATH_MAX];
	char			 tok[TOKENFMT_MAX_LEN + 1], t2[TOKENFMT_MAX_LEN + 1];
	uint64_t		 jti, jti2;
	const uint64_t		 rid = 0x0123456789abcdefULL;
	const int64_t		 iat = 1767225600, exp = iat + 300;
	int			 bit, accepted = 0, reencode_ok = 1;

	path_in(pa, sizeof(pa), "a.key");
	path_in(pb, sizeof(pb), "b.key");
	if (load(pa, 0, &a, NULL) == -1 || load(pa, 0, &a2, NULL) == -1 ||
	    load(pb, 0, &b, NULL) == -1) {
		CHECK(0, "load keys");
		return;
	}

	CHECK(token_mint_access(a, rid, iat, exp, 0x5, tok, sizeof(tok),
	    &jti) == 0, "mint access");
	CHECK(strlen(tok) == TOKENFMT_ACCESS_LEN && strncmp(tok, "tka_", 4) == 0,
	    "an access token's text");
	CHECK(token_parse(a2, tok, strlen(tok), &c) == 0, "MAC verifies");
	CHECK(c.kind == TOKEN_ACCESS && c.rid == rid && c.jti == jti &&
	    c.iat == iat && c.exp == exp && c.scope_mask == 0x5,
	    "claims round trip");
	CHECK(token_parse(b, tok, strlen(tok), &c) == -1, "another key: MAC fails");

	/* The documented payload layout. */
	CHECK(tokenfmt_parse(tok, strlen(tok), &orig) == 0, "format");
	CHECK(tokenfmt_load64(orig.payload) == rid &&
	    tokenfmt_load64(orig.payload + 8) == jti &&
	    tokenfmt_load64(orig.payload + 16) ==
	    ((uint64_t)iat << 32 | (uint64_t)exp) &&
	    tokenfmt_load64(orig.payload + 24) == 0x5,
	    "payload: rid, jti, iat<<32|exp, mask, mac");

	/* Every flipped bit, re-encoded with a valid checksum, is refused. */
	for (bit = 0; bit < TOKENFMT_ACCESS_BYTES * 8; bit++) {
		tf = orig;
		tf.payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (tokenfmt_encode(TOKEN_ACCESS, tf.payload, tf.len, t2,
		    sizeof(t2)) != 0 || tokenfmt_parse(t2, strlen(t2), &tf) != 0)
			reencode_ok = 0;
		if (token_parse(a, t2, strlen(t2), &c) == 0) {
			fprintf(stderr, "  bit %d flipped: accepted\n", bit);
			accepted++;
		}
	}
	CHECK(reencode_ok, "flipped tokens are well-formed");
	CHECK(accepted == 0, "every flipped payload bit is refused");
	tokenfmt_encode(TOKEN_ACCESS, orig.payload, orig.len, t2, sizeof(t2));
	CHECK(strcmp(t2, tok) == 0 && token_parse(a, t2, strlen(t2), &c) == 0,
	    "unchanged payload re-encodes to the same token");

	/* Boundaries. */
	CHECK(token_mint_access(a, UINT64_MAX, 0, UINT32_MAX, UINT64_MAX, tok,
	    sizeof(tok), &jti2) == 0 && token_parse(a, tok, strlen(tok), &c) == 0 &&
	    c.rid == UINT64_MAX && c.iat == 0 && c.exp == UINT32_MAX &&
	    c.scope_mask == UINT64_MAX && c.jti == jti2, "extreme claims");
	CHECK(token_mint_access(a, 1, iat, iat, 0, tok, sizeof(tok), &jti2) == 0 &&
	    token_parse(a, tok, strlen(tok), &c) == 0 && c.iat == c.exp &&
	    c.scope_mask == 0, "iat == exp, no scopes");
	CHECK(token_mint_access(a, 1, -1, exp, 0, tok, sizeof(tok), &jti2) == -1,
	    "negative iat refused");
	CHECK(token_mint_access(a, 1, iat, iat - 1, 0, tok, sizeof(tok), &jti2) == -1,
	    "exp before iat refused");
	CHECK(token_mint_access(a, 1, iat, (int64_t)UINT32_MAX + 1, 0, tok,
	    sizeof(tok), &jti2) == -1, "exp past 32 bits refused");
	CHECK(token_mint_access(a, 1, iat, exp, 0, tok, TOKENFMT_ACCESS_LEN,
	    &jti2) == -1, "no room for the token");

	/* An access token is not a refresh token, and vice versa. */
	CHECK(token_mint_access(a, rid, iat, exp, 1, tok, sizeof(tok), &jti2) == 0 &&
	    token_parse(a, tok, strlen(tok), &c) == 0 && c.kind == TOKEN_ACCESS,
	    "kind is access");

	token_keys_free(a);
	token_keys_free(a2);
	token_keys_free(b);
}

/* ---- the key vectors ---- */

static int
hex_decode(const char *s, uint8_t *out, size_t n)
{
	size_t		i;
	unsigned	v;

	if (strlen(s) != 2 * n || strspn(s, "0123456789abcdefABCDEF") != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void
test_vectors(const char *path)
{
	struct token_keys	*k = NULL;
	struct token_claims	 c;
	struct tokenfmt		 tf;
	FILE			*f;
	char			*line = NULL, *save, *w[5], kp[PATH_MAX];
	uint8_t			 master[TOKEN_KEY_BYTES], hash[TOKEN_HASH_BYTES];
	size_t			 cap = 0;
	int			 nw, nhash = 0, nmac = 0, nforged = 0;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		CHECK(0, "vector file opens");
		return;
	}
	path_in(kp, sizeof(kp), "vector.key");
	while (getline(&line, &cap, f) != -1) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#')
			continue;
		nw = 0;
		for (w[nw] = strtok_r(line, " \t", &save); w[nw] != NULL && nw < 4;
		    w[nw] = strtok_r(NULL, " \t", &save))
			nw++;
		if (nw == 0)
			continue;
		if (strcmp(w[0], "masterkey") == 0 && nw == 2) {
			token_keys_free(k);
			k = NULL;
			CHECK(hex_decode(w[1], master, sizeof(master)) == 0,
			    "masterkey is 32 bytes of hex");
			CHECK(write_file(kp, master, sizeof(master), 0600) == 0 &&
			    load(kp, 0, &k, NULL) == 0, "vector key loads");
		} else if (strcmp(w[0], "hash") == 0 && nw == 4 && k != NULL) {
			nhash++;
			CHECK(hex_decode(w[3], hash, sizeof(hash)) == 0, w[1]);
			CHECK(token_parse(k, w[2], strlen(w[2]), &c) == 0 &&
			    c.kind == TOKEN_REFRESH, w[1]);
			CHECK(token_hash_equal(c.hash, hash), w[1]);
		} else if (strcmp(w[0], "mac") == 0 && nw == 3 && k != NULL) {
			nmac++;
			CHECK(tokenfmt_parse(w[2], strlen(w[2]), &tf) == 0, w[1]);
			CHECK(token_parse(k, w[2], strlen(w[2]), &c) == 0 &&
			    c.kind == TOKEN_ACCESS, w[1]);
			CHECK(c.rid == tokenfmt_load64(tf.payload) &&
			    c.jti == tokenfmt_load64(tf.payload + 8) &&
			    (uint64_t)c.iat << 32 == (tokenfmt_load64(tf.payload + 16) &
			    0xffffffff00000000ULL) &&
			    (uint64_t)c.exp == (tokenfmt_load64(tf.payload + 16) &
			    0xffffffffULL) &&
			    c.scope_mask == tokenfmt_load64(tf.payload + 24), w[1]);
		} else if (strcmp(w[0], "forged") == 0 && nw == 3 && k != NULL) {
			nforged++;
			CHECK(tokenfmt_parse(w[2], strlen(w[2]), &tf) == 0, w[1]);
			CHECK(token_parse(k, w[2], strlen(w[2]), &c) == -1, w[1]);
		}
	}
	CHECK(nhash >= 1 && nmac >= 1 && nforged >= 1, "key vectors present");
	free(line);
	fclose(f);
	token_keys_free(k);
}

/* Remove what the tests made in tmpdir (it holds no subfolders but dir.key). */
static void
cleanup(void)
{
	static const char	*names[] = { "new.key", "mode.key", "size.key",
	    "good.key", "link.key", "dangling.key", "owner.key", "a.key",
	    "b.key", "vector.key" };
	char			 p[PATH_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in(p, sizeof(p), names[i]);
		unlink(p);
	}
	path_in(p, sizeof(p), "dir.key");
	rmdir(p);
	rmdir(tmpdir);
}

int
main(int argc, char **argv)
{
	const char	*dir;

	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_token.XXXXXX", dir);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_key_file();
	test_refresh();
	test_access();
	test_vectors(argc > 1 ? argv[1] : VECTORS_DEFAULT);
	cleanup();
	return check_summary("token");
}
