/* SPDX-License-Identifier: ISC */
/*
 * Minting and checking tokens (the text format is protocol/tokenfmt.h).
 *
 * A refresh token carries a random 64-bit id and 192 random bits; the
 * store keeps BLAKE2b-256(hash key, id || secret).  An access token is
 * stateless: refresh id, jti, iat, exp and a scope mask (bits over the
 * refresh token's scope list) under a BLAKE2b-128 MAC, so EXCHANGE and
 * VERIFY write nothing; the daemon still checks the refresh record, so a
 * revoke takes effect at once.
 *
 * Both keys derive from one 32-byte master key in the key file (0600).
 */
#ifndef TOKEND_TOKEN_H
#define TOKEND_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_KEY_BYTES		32
#define TOKEN_HASH_BYTES	32

struct token_keys;

struct token_claims {
	int		kind;		/* TOKEN_REFRESH or TOKEN_ACCESS */
	uint64_t	rid;		/* refresh id */
	uint64_t	jti;		/* access: its own id; refresh: rid */
	int64_t		iat;		/* access only */
	int64_t		exp;		/* access only */
	uint64_t	scope_mask;	/* access only */
	uint8_t		hash[TOKEN_HASH_BYTES];	/* refresh only: keyed hash */
};

/*
 * Load the master key from path.  When the file does not exist and
 * may_create is set, create it (0600) with fresh random bytes.  Refuses a
 * file that is not regular, not owned by us, readable by group or other,
 * or not exactly 32 bytes.
 */
int	 token_keys_load(const char *path, int may_create,
	     struct token_keys **keys, char **cause);
/*
 * The two halves of token_keys_load, for the daemon's two processes: the
 * monitor reads (or makes) the master key; the engine, which never opens
 * the key file, derives its keys from the bytes the monitor sends.
 */
int	 token_key_read(const char *path, int may_create,
	     uint8_t master[TOKEN_KEY_BYTES], char **cause);
int	 token_keys_from_master(const uint8_t master[TOKEN_KEY_BYTES],
	     struct token_keys **keys, char **cause);
void	 token_keys_free(struct token_keys *keys);

/* New refresh token text into out, its id and the hash to store. */
int	 token_mint_refresh(const struct token_keys *keys, char *out,
	     size_t outsize, uint64_t *id, uint8_t hash[TOKEN_HASH_BYTES]);
/* New access token for refresh id rid. */
int	 token_mint_access(const struct token_keys *keys, uint64_t rid,
	     int64_t iat, int64_t exp, uint64_t scope_mask, char *out,
	     size_t outsize, uint64_t *jti);
/*
 * Parse and authenticate a token's text: checksum, then for access tokens
 * the MAC (constant time).  For a refresh token, claims->hash is what the
 * store must hold for it; compare with token_hash_equal().
 */
int	 token_parse(const struct token_keys *keys, const char *s, size_t len,
	     struct token_claims *claims);
int	 token_hash_equal(const uint8_t a[TOKEN_HASH_BYTES],
	     const uint8_t b[TOKEN_HASH_BYTES]);

#endif /* TOKEND_TOKEN_H */
