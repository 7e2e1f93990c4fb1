/* SPDX-License-Identifier: ISC */
/*
 * Token text format: prefix, base62 blocks, CRC32 checksum (tokenfmt.h).
 */
#include <endian.h>
#include <string.h>

#include "proto.h"
#include "tokenfmt.h"

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* base62 digit values; -1 for every other byte. */
static const int8_t b62_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
	25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, -1, -1, -1, -1, -1,
	-1, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
	51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

#define B62_POW5	916132832U	/* 62^5: five digits fit 32 bits */

/*
 * Five digits without a division.  f = v * B62_FRAC is v / 62^4 as a
 * fixed-point number with 54 fraction bits: its integer part is the
 * first digit, and each further digit is the integer part of what is
 * left times 62.  B62_FRAC = ceil(2^54 / 62^4) makes f too large by e
 * units of 2^-54, e < v < 62^5.  Step k (k = 0..4) looks at the exact
 * value times 62^k, whose fraction is a multiple of 1/62^(4-k), plus the
 * excess e * 62^k / 2^54; as e * 62^4 < 2^54 that excess never carries
 * into the integer part, so the digits are those of dividing by 62.  f
 * stays under 2^60.  All 62^5 values were checked against division
 * once; test_tokenfmt checks 2^20 of them and the edges of every digit.
 */
#define B62_FRAC	1219138392U
#define B62_FRAC_BITS	54
#define B62_FRAC_MASK	((UINT64_C(1) << B62_FRAC_BITS) - 1)

/* Write v < 62^5 as exactly five base62 digits, most significant first. */
static void
b62_put5(uint32_t v, char *out)
{
	uint64_t	f = (uint64_t)v * B62_FRAC;
	int		i;

	out[0] = b62[f >> B62_FRAC_BITS];
	/* Unrolled (GCC and clang; others ignore it): no loop counter. */
#pragma GCC unroll 4
	for (i = 1; i < 5; i++) {
		f = (f & B62_FRAC_MASK) * 62;
		out[i] = b62[f >> B62_FRAC_BITS];
	}
}

/*
 * Write v as the 11 digits of a block.  Two 64-bit divisions (by a
 * constant, so multiplications) split it into 1 + 5 + 5 digits.
 */
static void
b62_put_block(uint64_t v, char *out)
{
	uint64_t	q = v / B62_POW5;

	b62_put5((uint32_t)(v - q * B62_POW5), out + 6);
	b62_put5((uint32_t)(q % B62_POW5), out + 1);
	out[0] = b62[q / B62_POW5];	/* < 22: 62^11 > 2^64 > 21 * 62^10 */
}

/* Write the checksum as its 6 digits; the first is < 5 as 2^32 < 5 * 62^5. */
static void
b62_put_crc(uint32_t crc, char *out)
{
	out[0] = b62[crc / B62_POW5];
	b62_put5(crc % B62_POW5, out + 1);
}

/*
 * Read n (at most 10) base62 digits, which cannot overflow: 62^10 <
 * 2^64.  A bad character is -1 in b62_values; rather than branch on
 * every digit, the values are or-ed together and judged once.  What a
 * bad digit did to acc does not matter, it is thrown away.  Unrolled,
 * as n is a constant wherever this is inlined: a fifth fewer
 * instructions per token parsed.
 */
static int
b62_get(const char *s, size_t n, uint64_t *v)
{
	uint64_t	acc = 0;
	size_t		i;
	int		d, bad = 0;

#pragma GCC unroll 10
	for (i = 0; i < n; i++) {
		d = b62_values[(uint8_t)s[i]];
		bad |= d;
		acc = acc * 62 + (uint64_t)d;
	}
	if (bad < 0)
		return -1;
	*v = acc;
	return 0;
}

/*
 * Read the 11 digits of a block; -1 on a bad character or a value over
 * 64 bits, which only the eleventh digit can bring.  Inline, so that
 * tokenfmt_parse saves its registers once rather than for every block.
 */
static inline int
b62_get_block(const char *s, uint64_t *v)
{
	uint64_t	acc;
	int		d;

	if (b62_get(s, TOKENFMT_BLOCK_CHARS - 1, &acc) == -1 ||
	    (d = b62_values[(uint8_t)s[TOKENFMT_BLOCK_CHARS - 1]]) < 0 ||
	    __builtin_mul_overflow(acc, 62, &acc) ||
	    __builtin_add_overflow(acc, (uint64_t)d, &acc))
		return -1;
	*v = acc;
	return 0;
}

/*
 * The public tokenfmt_load64/store64 and tokenfmt_crc32 may be
 * interposed in the shared library, so with -fPIC the compiler calls
 * them through the PLT rather than inline them; these static ones are
 * what the hot paths use.
 */
static uint64_t
load64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static void
store64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

uint64_t
tokenfmt_load64(const uint8_t *p)
{
	return load64(p);
}

void
tokenfmt_store64(uint8_t *p, uint64_t v)
{
	store64(p, v);
}

#include "crc32tab.h"

/* CRC32 (IEEE 802.3, reflected 0xedb88320), as zlib computes it. */
static uint32_t
crc32_ieee(const uint8_t *p, size_t len)
{
	const uint32_t	(*t)[256] = crc_tables;
	uint32_t	 crc = 0xffffffff, lo, hi;

	/* Eight bytes a step (little-endian loads, as the tables expect). */
	for (; len >= 8; len -= 8, p += 8) {
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
		    t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
		    t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		    t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
	}
	/* An access token's body leaves 6 bytes: take 4 of them at once. */
	if (len >= 4) {
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = t[3][lo & 0xff] ^ t[2][(lo >> 8) & 0xff] ^
		    t[1][(lo >> 16) & 0xff] ^ t[0][lo >> 24];
		len -= 4;
		p += 4;
	}
	while (len-- > 0)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffff;
}

uint32_t
tokenfmt_crc32(const void *data, size_t len)
{
	return crc32_ieee(data, len);
}

int
tokenfmt_encode(int kind, const uint8_t *payload, size_t len, char *out,
    size_t outsize)
{
	const char	*prefix;
	size_t		 want, i, pos;

	if (kind == TOKEN_REFRESH && len == TOKENFMT_REFRESH_BYTES) {
		prefix = TOKENFMT_PREFIX_REFRESH;
		want = TOKENFMT_REFRESH_LEN;
	} else if (kind == TOKEN_ACCESS && len == TOKENFMT_ACCESS_BYTES) {
		prefix = TOKENFMT_PREFIX_ACCESS;
		want = TOKENFMT_ACCESS_LEN;
	} else
		return -1;
	if (outsize < want + 1)
		return -1;
	memcpy(out, prefix, TOKENFMT_PREFIX_LEN);
	pos = TOKENFMT_PREFIX_LEN;
	for (i = 0; i < len; i += 8) {
		b62_put_block(load64(payload + i), out + pos);
		pos += TOKENFMT_BLOCK_CHARS;
	}
	b62_put_crc(crc32_ieee((uint8_t *)out, pos), out + pos);
	pos += TOKENFMT_CRC_CHARS;
	out[pos] = '\0';
	return 0;
}

int
tokenfmt_parse(const char *s, size_t len, struct tokenfmt *out)
{
	uint64_t	v, crc;
	size_t		i, nblocks, body;

	if (len == TOKENFMT_REFRESH_LEN &&
	    memcmp(s, TOKENFMT_PREFIX_REFRESH, TOKENFMT_PREFIX_LEN) == 0) {
		out->kind = TOKEN_REFRESH;
		out->len = TOKENFMT_REFRESH_BYTES;
	} else if (len == TOKENFMT_ACCESS_LEN &&
	    memcmp(s, TOKENFMT_PREFIX_ACCESS, TOKENFMT_PREFIX_LEN) == 0) {
		out->kind = TOKEN_ACCESS;
		out->len = TOKENFMT_ACCESS_BYTES;
	} else
		return -1;
	nblocks = out->len / 8;
	body = TOKENFMT_PREFIX_LEN + nblocks * TOKENFMT_BLOCK_CHARS;
	/* 6 digits cannot overflow; a value over 32 bits is no CRC either */
	if (b62_get(s + body, TOKENFMT_CRC_CHARS, &crc) == -1 ||
	    crc != crc32_ieee((const uint8_t *)s, body))
		return -1;
	for (i = 0; i < nblocks; i++) {
		if (b62_get_block(s + TOKENFMT_PREFIX_LEN +
		    i * TOKENFMT_BLOCK_CHARS, &v) == -1)
			return -1;
		store64(out->payload + i * 8, v);
	}
	return 0;
}

void
tokenfmt_id_str(uint64_t id, char out[12])
{
	b62_put_block(id, out);
	out[TOKENFMT_BLOCK_CHARS] = '\0';
}

int
tokenfmt_id_parse(const char *s, uint64_t *id)
{
	if (strlen(s) != TOKENFMT_BLOCK_CHARS)
		return -1;
	return b62_get_block(s, id);
}
