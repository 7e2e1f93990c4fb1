/* SPDX-License-Identifier: ISC */
/*
 * The token format: <prefix>_<body><checksum>.
 *
 *   refresh  "tkr_" + base62(id 8 bytes, secret 24 bytes) + crc     = 54 chars
 *   access   "tka_" + base62(refresh id 8, jti 8, iat|exp 8,
 *                            scope mask 8, mac 16)          + crc     = 76 chars
 *
 * base62 works on 8-byte big-endian blocks, each written as exactly 11
 * characters of 0-9A-Za-z (most significant first).  The checksum is the
 * CRC32 (IEEE) of everything before it, prefix included, written as 6
 * base62 characters.  A token that fails the checksum is rejected without
 * asking the database.
 */
#ifndef TOKEND_TOKENFMT_H
#define TOKEND_TOKENFMT_H

#include <stddef.h>
#include <stdint.h>

#define TOKENFMT_PREFIX_REFRESH	"tkr_"
#define TOKENFMT_PREFIX_ACCESS	"tka_"
#define TOKENFMT_PREFIX_LEN	4
#define TOKENFMT_BLOCK_CHARS	11
#define TOKENFMT_CRC_CHARS	6
#define TOKENFMT_REFRESH_BYTES	32
#define TOKENFMT_ACCESS_BYTES	48
#define TOKENFMT_REFRESH_LEN	(TOKENFMT_PREFIX_LEN + 4 * TOKENFMT_BLOCK_CHARS + TOKENFMT_CRC_CHARS)
#define TOKENFMT_ACCESS_LEN	(TOKENFMT_PREFIX_LEN + 6 * TOKENFMT_BLOCK_CHARS + TOKENFMT_CRC_CHARS)
#define TOKENFMT_MAX_LEN	TOKENFMT_ACCESS_LEN

struct tokenfmt {
	int		kind;				/* TOKEN_REFRESH or TOKEN_ACCESS */
	size_t		len;				/* payload bytes */
	uint8_t		payload[TOKENFMT_ACCESS_BYTES];
};

/* Encode kind + payload (32 or 48 bytes) into out[TOKENFMT_MAX_LEN + 1]. */
int	 tokenfmt_encode(int kind, const uint8_t *payload, size_t len,
	     char *out, size_t outsize);
/* 0 when s[0..len) is a well-formed token with a valid checksum. */
int	 tokenfmt_parse(const char *s, size_t len, struct tokenfmt *out);
/* The public id (first payload block) as 11 base62 characters + NUL. */
void	 tokenfmt_id_str(uint64_t id, char out[12]);
/* Parse an 11-character id; 0 on success. */
int	 tokenfmt_id_parse(const char *s, uint64_t *id);
uint64_t tokenfmt_load64(const uint8_t *);
void	 tokenfmt_store64(uint8_t *, uint64_t);
uint32_t tokenfmt_crc32(const void *, size_t);

#endif /* TOKEND_TOKENFMT_H */
