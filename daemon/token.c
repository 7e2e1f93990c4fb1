/* SPDX-License-Identifier: ISC */
/*
 * Token minting and authentication (token.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "proto.h"
#include "token.h"
#include "tokenfmt.h"
#include "util.h"

#define KDF_CONTEXT	"tokend01"
#define KDF_ID_HASH	1
#define KDF_ID_MAC	2
#define ACCESS_MAC_BYTES 16
#define ACCESS_SIGNED	32	/* payload bytes covered by the MAC */

/*
 * The keyed BLAKE2b states are initialised once: each hash then starts
 * from a copy, which saves compressing the key block on every request.
 */
struct token_keys {
	crypto_generichash_state	hash_state;	/* 32-byte output */
	crypto_generichash_state	mac_state;	/* 16-byte output */
};

/* Random bytes for access token ids, drawn in blocks: one getrandom per 512 tokens. */
#define RANDOM_POOL	4096
static uint8_t	*random_pool;
static size_t	 random_left;

static uint64_t
random64(void)
{
	uint64_t	v;

	if (random_pool == NULL &&
	    (random_pool = sodium_malloc(RANDOM_POOL)) == NULL)
		return randombytes_random() | (uint64_t)randombytes_random() << 32;
	if (random_left < sizeof(v)) {
		randombytes_buf(random_pool, RANDOM_POOL);
		random_left = RANDOM_POOL;
	}
	random_left -= sizeof(v);
	memcpy(&v, random_pool + random_left, sizeof(v));
	sodium_memzero(random_pool + random_left, sizeof(v));
	return v;
}

static int
key_create(const char *path, uint8_t *master, char **cause)
{
	char	 dir[PATH_MAX];
	int	 fd, dfd;
	ssize_t	 n;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		cause_set(cause, "cannot create key file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	randombytes_buf(master, TOKEN_KEY_BYTES);
	n = write(fd, master, TOKEN_KEY_BYTES);
	if (n != TOKEN_KEY_BYTES || fsync(fd) == -1) {
		cause_set(cause, "cannot write key file %s: %s", path,
		    n >= 0 && n != TOKEN_KEY_BYTES ? "short write" :
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	/* Make the new name itself durable. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int
key_read(const char *path, uint8_t *master, char **cause)
{
	struct stat	 st;
	int		 fd;
	ssize_t		 n;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		cause_set(cause, "cannot open key file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		cause_set(cause, "key file %s is not a regular file", path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		cause_set(cause, "key file %s is owned by uid %u, not %u", path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		cause_set(cause, "key file %s has mode %04o: group and others "
		    "must have no access (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size != TOKEN_KEY_BYTES) {
		cause_set(cause, "key file %s has %lld bytes, expected %d", path,
		    (long long)st.st_size, TOKEN_KEY_BYTES);
		goto fail;
	}
	n = read(fd, master, TOKEN_KEY_BYTES);
	if (n != TOKEN_KEY_BYTES) {
		cause_set(cause, "cannot read key file %s: %s", path,
		    n == -1 ? strerror(errno) : "short read");
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int
token_key_read(const char *path, int may_create,
    uint8_t master[TOKEN_KEY_BYTES], char **cause)
{
	struct stat	st;

	/* lstat: a dangling symlink is "not a regular file", not "missing". */
	if (lstat(path, &st) == -1 && errno == ENOENT) {
		if (!may_create)
			return cause_set(cause, "key file %s is missing but the "
			    "database holds tokens; restore it from backup "
			    "(tokens cannot be checked without it)", path);
		return key_create(path, master, cause);
	}
	return key_read(path, master, cause);
}

int
token_keys_from_master(const uint8_t master[TOKEN_KEY_BYTES],
    struct token_keys **keysp, char **cause)
{
	struct token_keys	*keys;
	uint8_t			*sub;

	*keysp = NULL;
	if (sodium_init() < 0)
		return cause_set(cause, "libsodium failed to initialise");
	keys = sodium_malloc(sizeof(*keys));
	sub = sodium_malloc(TOKEN_KEY_BYTES);
	if (keys == NULL || sub == NULL) {
		if (keys != NULL)
			sodium_free(keys);
		if (sub != NULL)
			sodium_free(sub);
		return cause_set(cause, "cannot allocate key memory");
	}
	crypto_kdf_derive_from_key(sub, TOKEN_KEY_BYTES, KDF_ID_HASH,
	    KDF_CONTEXT, master);
	crypto_generichash_init(&keys->hash_state, sub, TOKEN_KEY_BYTES,
	    TOKEN_HASH_BYTES);
	crypto_kdf_derive_from_key(sub, TOKEN_KEY_BYTES, KDF_ID_MAC,
	    KDF_CONTEXT, master);
	crypto_generichash_init(&keys->mac_state, sub, TOKEN_KEY_BYTES,
	    ACCESS_MAC_BYTES);
	sodium_free(sub);	/* wipes */
	sodium_mprotect_readonly(keys);
	*keysp = keys;
	return 0;
}

int
token_keys_load(const char *path, int may_create, struct token_keys **keysp,
    char **cause)
{
	uint8_t	*master;
	int	 rc = -1;

	*keysp = NULL;
	if (sodium_init() < 0)
		return cause_set(cause, "libsodium failed to initialise");
	if ((master = sodium_malloc(TOKEN_KEY_BYTES)) == NULL)
		return cause_set(cause, "cannot allocate key memory");
	if (token_key_read(path, may_create, master, cause) == 0 &&
	    token_keys_from_master(master, keysp, cause) == 0)
		rc = 0;
	sodium_free(master);	/* wipes */
	return rc;
}

void
token_keys_free(struct token_keys *keys)
{
	if (keys != NULL)
		sodium_free(keys);
	if (random_pool != NULL) {
		sodium_free(random_pool);
		random_pool = NULL;
		random_left = 0;
	}
}

/* BLAKE2b-256(hash key, id || secret) */
static void
refresh_hash(const struct token_keys *keys, const uint8_t *payload,
    uint8_t hash[TOKEN_HASH_BYTES])
{
	crypto_generichash_state	st = keys->hash_state;

	crypto_generichash_update(&st, payload, TOKENFMT_REFRESH_BYTES);
	crypto_generichash_final(&st, hash, TOKEN_HASH_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* BLAKE2b-128(MAC key, the access token's first 32 payload bytes) */
static void
access_mac(const struct token_keys *keys, const uint8_t *payload, uint8_t *mac)
{
	crypto_generichash_state	st = keys->mac_state;

	crypto_generichash_update(&st, payload, ACCESS_SIGNED);
	crypto_generichash_final(&st, mac, ACCESS_MAC_BYTES);
	sodium_memzero(&st, sizeof(st));
}

int
token_mint_refresh(const struct token_keys *keys, char *out, size_t outsize,
    uint64_t *id, uint8_t hash[TOKEN_HASH_BYTES])
{
	uint8_t	payload[TOKENFMT_REFRESH_BYTES];
	int	rc;

	randombytes_buf(payload, sizeof(payload));
	/* Id 0 is never handed out, so a zeroed id can mean "none". */
	while ((*id = tokenfmt_load64(payload)) == 0)
		randombytes_buf(payload, 8);
	refresh_hash(keys, payload, hash);
	rc = tokenfmt_encode(TOKEN_REFRESH, payload, sizeof(payload), out,
	    outsize);
	sodium_memzero(payload, sizeof(payload));
	return rc;
}

int
token_mint_access(const struct token_keys *keys, uint64_t rid, int64_t iat,
    int64_t exp, uint64_t scope_mask, char *out, size_t outsize,
    uint64_t *jti)
{
	uint8_t	payload[TOKENFMT_ACCESS_BYTES];

	if (iat < 0 || exp < iat || exp > UINT32_MAX)
		return -1;
	while ((*jti = random64()) == 0)
		;
	tokenfmt_store64(payload, rid);
	tokenfmt_store64(payload + 8, *jti);
	tokenfmt_store64(payload + 16, (uint64_t)iat << 32 | (uint64_t)exp);
	tokenfmt_store64(payload + 24, scope_mask);
	access_mac(keys, payload, payload + ACCESS_SIGNED);
	return tokenfmt_encode(TOKEN_ACCESS, payload, sizeof(payload), out,
	    outsize);
}

int
token_parse(const struct token_keys *keys, const char *s, size_t len,
    struct token_claims *c)
{
	struct tokenfmt	tf;
	uint8_t		mac[ACCESS_MAC_BYTES];
	uint64_t	times;
	int		rc = -1;

	memset(c, 0, sizeof(*c));
	if (tokenfmt_parse(s, len, &tf) == -1)
		goto done;
	c->kind = tf.kind;
	c->rid = tokenfmt_load64(tf.payload);
	if (tf.kind == TOKEN_REFRESH) {
		c->jti = c->rid;
		refresh_hash(keys, tf.payload, c->hash);
		rc = 0;
		goto done;
	}
	access_mac(keys, tf.payload, mac);
	if (crypto_verify_16(mac, tf.payload + ACCESS_SIGNED) != 0)
		goto done;
	c->jti = tokenfmt_load64(tf.payload + 8);
	times = tokenfmt_load64(tf.payload + 16);
	c->iat = (int64_t)(times >> 32);
	c->exp = (int64_t)(times & 0xffffffff);
	c->scope_mask = tokenfmt_load64(tf.payload + 24);
	rc = 0;
done:
	sodium_memzero(&tf, sizeof(tf));
	return rc;
}

int
token_hash_equal(const uint8_t a[TOKEN_HASH_BYTES],
    const uint8_t b[TOKEN_HASH_BYTES])
{
	return crypto_verify_32(a, b) == 0;
}
