/*
 * Token text format: prefix, base62 blocks, CRC32 checksum (tokenfmt.h).
 */
#include <string.h>

#include "proto.h"
#include "tokenfmt.h"

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
b62_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/* Write v as exactly n base62 digits, most significant first. */
static void
b62_put(uint64_t v, char *out, size_t n)
{
	while (n-- > 0) {
		out[n] = b62[v % 62];
		v /= 62;
	}
}

/* Read n base62 digits; -1 on a bad character or a value over 64 bits. */
static int
b62_get(const char *s, size_t n, uint64_t *v)
{
	uint64_t	acc = 0;
	int		d;

	while (n-- > 0) {
		if ((d = b62_value(*s++)) < 0)
			return -1;
		if (acc > (UINT64_MAX - (uint64_t)d) / 62)
			return -1;
		acc = acc * 62 + (uint64_t)d;
	}
	*v = acc;
	return 0;
}

uint64_t
tokenfmt_load64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
tokenfmt_store64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

uint32_t
tokenfmt_crc32(const void *data, size_t len)
{
	static uint32_t	table[256];
	static int	ready;
	const uint8_t	*p = data;
	uint32_t	crc = 0xffffffff, c;
	unsigned	i, k;

	/* Benign race: every thread computes the same table. */
	if (!ready) {
		for (i = 0; i < 256; i++) {
			c = i;
			for (k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	while (len-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
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
		b62_put(tokenfmt_load64(payload + i), out + pos,
		    TOKENFMT_BLOCK_CHARS);
		pos += TOKENFMT_BLOCK_CHARS;
	}
	b62_put(tokenfmt_crc32(out, pos), out + pos, TOKENFMT_CRC_CHARS);
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
	b62_put(id, out, TOKENFMT_BLOCK_CHARS);
	out[TOKENFMT_BLOCK_CHARS] = '\0';
}

int
tokenfmt_id_parse(const char *s, uint64_t *id)
{
	if (strlen(s) != TOKENFMT_BLOCK_CHARS)
		return -1;
	return b62_get(s, TOKENFMT_BLOCK_CHARS, id);
}
