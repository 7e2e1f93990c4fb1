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

/* Write v as exactly n base62 digits, most significant first. */
static void
b62_put32(uint32_t v, char *out, size_t n)
{
	while (n-- > 0) {
		out[n] = b62[v % 62];
		v /= 62;
	}
}

/*
 * Write v as the 11 digits of a block.  Two 64-bit divisions split it
 * into 1 + 5 + 5 digits; the rest is 32-bit arithmetic, which is what
 * made encoding cheap enough for every EXCHANGE.
 */
static void
b62_put_block(uint64_t v, char *out)
{
	uint64_t	q = v / B62_POW5;

	b62_put32((uint32_t)(v % B62_POW5), out + 6, 5);
	b62_put32((uint32_t)(q % B62_POW5), out + 1, 5);
	out[0] = b62[q / B62_POW5];	/* < 22: 62^11 > 2^64 > 21 * 62^10 */
}

/*
 * Read n (at most 11) base62 digits; -1 on a bad character or a value
 * over 64 bits.  Ten digits cannot overflow (62^10 < 2^64), so only an
 * eleventh is checked.
 */
static int
b62_get(const char *s, size_t n, uint64_t *v)
{
	uint64_t	acc = 0;
	size_t		i;
	int		d;

	for (i = 0; i < n; i++) {
		if ((d = b62_values[(uint8_t)s[i]]) < 0)
			return -1;
		if (i < 10)
			acc = acc * 62 + (uint64_t)d;
		else if (__builtin_mul_overflow(acc, 62, &acc) ||
		    __builtin_add_overflow(acc, (uint64_t)d, &acc))
			return -1;
	}
	*v = acc;
	return 0;
}

uint64_t
tokenfmt_load64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

void
tokenfmt_store64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

#include "crc32tab.h"

/* CRC32 (IEEE 802.3, reflected 0xedb88320), as zlib computes it. */
uint32_t
tokenfmt_crc32(const void *data, size_t len)
{
	const uint8_t	*p = data;
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
	while (len-- > 0)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffff;
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
		b62_put_block(tokenfmt_load64(payload + i), out + pos);
		pos += TOKENFMT_BLOCK_CHARS;
	}
	b62_put32(tokenfmt_crc32(out, pos), out + pos, TOKENFMT_CRC_CHARS);
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
	if (b62_get(s + body, TOKENFMT_CRC_CHARS, &crc) == -1 ||
	    crc != tokenfmt_crc32(s, body))
		return -1;
	for (i = 0; i < nblocks; i++) {
		if (b62_get(s + TOKENFMT_PREFIX_LEN + i * TOKENFMT_BLOCK_CHARS,
		    TOKENFMT_BLOCK_CHARS, &v) == -1)
			return -1;
		tokenfmt_store64(out->payload + i * 8, v);
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
	return b62_get(s, TOKENFMT_BLOCK_CHARS, id);
}
