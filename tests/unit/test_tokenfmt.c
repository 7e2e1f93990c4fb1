/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for protocol/tokenfmt.c: the token text format of
 * PROTOCOL.md §11 (prefix, base62 blocks, CRC32 checksum) and public ids.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proto.h"
#include "tokenfmt.h"

static const char	b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* A fixed pseudo-random sequence (xorshift64*), so failures repeat. */
static uint64_t	rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void
rng_bytes(uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(rng() >> 56);
}

/* Independent base62 writer, for building texts the encoder would not. */
static void
put62(uint64_t v, char *out, size_t n)
{
	while (n-- > 0) {
		out[n] = b62[v % 62];
		v /= 62;
	}
}

/* Recompute the checksum at the end of s (any length >= 6). */
static void
fix_checksum(char *s)
{
	size_t	n = strlen(s);

	put62(tokenfmt_crc32(s, n - TOKENFMT_CRC_CHARS),
	    s + n - TOKENFMT_CRC_CHARS, TOKENFMT_CRC_CHARS);
}

static int
parses(const char *s)
{
	struct tokenfmt	tf;

	return tokenfmt_parse(s, strlen(s), &tf) == 0;
}

/* The definition, a bit at a time: what the sliced tables must agree with. */
static uint32_t
crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t	crc = 0xffffffff;
	int		k;

	while (n-- > 0) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (crc & 1 ? 0xedb88320U : 0);
	}
	return crc ^ 0xffffffff;
}

static void
test_crc_bitwise(void)
{
	uint8_t		buf[300];
	size_t		n, i, bad = 0;
	uint32_t	x = 12345;

	for (n = 0; n <= sizeof(buf); n++) {
		for (i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			buf[i] = (uint8_t)(x >> 16);
		}
		/* every alignment of the 8-byte steps, every tail length */
		for (i = 0; i < 8 && i <= n; i++)
			if (tokenfmt_crc32(buf + i, n - i) !=
			    crc_bitwise(buf + i, n - i))
				bad++;
	}
	CHECK(bad == 0, "crc32 equals the bit-at-a-time definition, lengths 0-300");
}

static void
test_crc(void)
{
	/* The CRC-32/ISO-HDLC check value, and zlib's results. */
	CHECK(tokenfmt_crc32("123456789", 9) == 0xcbf43926U, "crc32 check value");
	CHECK(tokenfmt_crc32("", 0) == 0, "crc32 of nothing");
	CHECK(tokenfmt_crc32("a", 1) == 0xe8b7be43U, "crc32 of 'a'");
	CHECK(tokenfmt_crc32("The quick brown fox jumps over the lazy dog", 43) ==
	    0x414fa339U, "crc32 of the fox");
	test_crc_bitwise();
}

static void
test_load_store(void)
{
	static const uint8_t	be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t			b[8];
	uint64_t		v;
	int			i, ok = 1;

	CHECK(tokenfmt_load64(be) == 0x0102030405060708ULL, "load64 big-endian");
	tokenfmt_store64(b, 0x0102030405060708ULL);
	CHECK(memcmp(b, be, 8) == 0, "store64 big-endian");
	for (i = 0; i < 1000; i++) {
		v = rng();
		tokenfmt_store64(b, v);
		if (tokenfmt_load64(b) != v)
			ok = 0;
	}
	CHECK(ok, "load64(store64(v)) == v");
}

static void
test_ids(void)
{
	static const struct {
		uint64_t	v;
		const char	*s;
	} kat[] = {
		{ 0,				"00000000000" },
		{ 1,				"00000000001" },
		{ 61,				"0000000000z" },
		{ 62,				"00000000010" },
		{ 0x0123456789abcdefULL,	"063UfDVRKBz" },
		{ UINT64_MAX,			"LygHa16AHYF" },
	};
	static const char	*bad[] = {
		"LygHa16AHYG",		/* 2^64 */
		"zzzzzzzzzzz",		/* 62^11 - 1 */
		"M0000000000",		/* over 2^64 in the top digit */
		"0000000000",		/* 10 characters */
		"000000000000",		/* 12 characters */
		"",
		"0000000000-",
		"0000000000_",
		"00000 00000",
		"063UfDVRKBz\n",
	};
	char		s[12];
	uint64_t	v;
	size_t		i;
	int		ok = 1;

	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		tokenfmt_id_str(kat[i].v, s);
		CHECK(strcmp(s, kat[i].s) == 0, kat[i].s);
		CHECK(tokenfmt_id_parse(kat[i].s, &v) == 0 && v == kat[i].v,
		    kat[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(tokenfmt_id_parse(bad[i], &v) == -1, bad[i]);
	for (i = 0; i < 10000; i++) {
		uint64_t	r = rng();

		tokenfmt_id_str(r, s);
		if (strlen(s) != 11 || tokenfmt_id_parse(s, &v) != 0 || v != r)
			ok = 0;
	}
	CHECK(ok, "id round trip");
	/* Base62 order is ASCII order, so ids sort like their values. */
	ok = 1;
	for (i = 0; i < 1000; i++) {
		uint64_t	a = rng(), b = rng();
		char		sa[12], sb[12];

		tokenfmt_id_str(a, sa);
		tokenfmt_id_str(b, sb);
		if ((a < b) != (strcmp(sa, sb) < 0))
			ok = 0;
	}
	CHECK(ok, "ids sort like their values");
}

/*
 * The block writer computes digits by fixed-point multiplication rather
 * than division: compare it with put62 over every value below 2^20 (all
 * low five-digit groups up to there), values on each side of every 62^k
 * and of its multiples, and random values.  A one-off run checked all
 * 62^5 five-digit groups.
 */
static void
test_id_digits(void)
{
	char		s[12], want[12];
	uint64_t	v, p;
	size_t		i;
	int		k, d, bad = 0;

	want[11] = '\0';
	for (v = 0; v < (1 << 20); v++) {
		tokenfmt_id_str(v, s);
		put62(v, want, 11);
		if (memcmp(s, want, 12) != 0)
			bad++;
	}
	for (k = 1, p = 62; k <= 10; k++, p *= 62)
		for (d = 1; d < 62 && p <= UINT64_MAX / (uint64_t)d; d++)
			for (v = p * d - 2; v != p * d + 2; v++) {
				tokenfmt_id_str(v, s);
				put62(v, want, 11);
				if (memcmp(s, want, 12) != 0)
					bad++;
			}
	for (i = 0; i < 1000000; i++) {
		v = rng();
		if (i & 1)
			v >>= v & 63;
		tokenfmt_id_str(v, s);
		put62(v, want, 11);
		if (memcmp(s, want, 12) != 0)
			bad++;
	}
	CHECK(bad == 0, "id_str writes the digits of repeated division");
}

static void
test_round_trips(void)
{
	struct tokenfmt	tf;
	uint8_t		p[TOKENFMT_ACCESS_BYTES];
	char		out[TOKENFMT_MAX_LEN + 1];
	int		i, ok_r = 1, ok_a = 1;

	for (i = 0; i < 2000; i++) {
		rng_bytes(p, sizeof(p));
		if (tokenfmt_encode(TOKEN_REFRESH, p, TOKENFMT_REFRESH_BYTES, out,
		    sizeof(out)) != 0 || strlen(out) != 54 ||
		    strncmp(out, "tkr_", 4) != 0 ||
		    strspn(out + 4, b62) != 50 ||
		    tokenfmt_parse(out, strlen(out), &tf) != 0 ||
		    tf.kind != TOKEN_REFRESH || tf.len != 32 ||
		    memcmp(tf.payload, p, 32) != 0)
			ok_r = 0;
		if (tokenfmt_encode(TOKEN_ACCESS, p, TOKENFMT_ACCESS_BYTES, out,
		    sizeof(out)) != 0 || strlen(out) != 76 ||
		    strncmp(out, "tka_", 4) != 0 ||
		    strspn(out + 4, b62) != 72 ||
		    tokenfmt_parse(out, strlen(out), &tf) != 0 ||
		    tf.kind != TOKEN_ACCESS || tf.len != 48 ||
		    memcmp(tf.payload, p, 48) != 0)
			ok_a = 0;
	}
	CHECK(ok_r, "refresh tokens round trip");
	CHECK(ok_a, "access tokens round trip");
	CHECK(TOKENFMT_REFRESH_LEN == 54 && TOKENFMT_ACCESS_LEN == 76 &&
	    TOKENFMT_MAX_LEN <= TOKEND_TOKEN_MAX, "token lengths");

	/* The id is the first block. */
	rng_bytes(p, sizeof(p));
	tokenfmt_encode(TOKEN_REFRESH, p, 32, out, sizeof(out));
	{
		char	id[12];

		tokenfmt_id_str(tokenfmt_load64(p), id);
		CHECK(strncmp(out + 4, id, 11) == 0, "id is characters 5-15");
	}
}

static void
test_encode_args(void)
{
	uint8_t	p[TOKENFMT_ACCESS_BYTES];
	char	out[TOKENFMT_MAX_LEN + 1];

	memset(p, 0x5a, sizeof(p));
	CHECK(tokenfmt_encode(TOKEN_REFRESH, p, 48, out, sizeof(out)) == -1,
	    "refresh needs 32 bytes");
	CHECK(tokenfmt_encode(TOKEN_ACCESS, p, 32, out, sizeof(out)) == -1,
	    "access needs 48 bytes");
	CHECK(tokenfmt_encode(0, p, 32, out, sizeof(out)) == -1, "kind 0");
	CHECK(tokenfmt_encode(3, p, 48, out, sizeof(out)) == -1, "kind 3");
	CHECK(tokenfmt_encode(TOKEN_REFRESH, p, 32, out, 54) == -1,
	    "no room for the NUL");
	CHECK(tokenfmt_encode(TOKEN_REFRESH, p, 32, out, 55) == 0 &&
	    strlen(out) == 54, "exactly enough room");
	CHECK(tokenfmt_encode(TOKEN_ACCESS, p, 48, out, 76) == -1,
	    "access: no room for the NUL");
	CHECK(tokenfmt_encode(TOKEN_ACCESS, p, 48, out, 77) == 0,
	    "access: exactly enough room");
}

/*
 * Every substitution of one character by any other byte (including NUL
 * and non-alphabet bytes), and every swap of two different adjacent
 * characters, must be refused.
 */
static int
all_typos_rejected(const char *tok)
{
	char	t[TOKENFMT_MAX_LEN + 1];
	size_t	n = strlen(tok), i;
	int	c, bad = 0;

	for (i = 0; i < n; i++) {
		for (c = 0; c < 256; c++) {
			if (c == (unsigned char)tok[i])
				continue;
			memcpy(t, tok, n + 1);
			t[i] = (char)c;
			{
				struct tokenfmt	tf;

				if (tokenfmt_parse(t, n, &tf) == 0) {
					fprintf(stderr, "  %s: position %zu -> 0x%02x "
					    "accepted\n", tok, i, c);
					bad++;
				}
			}
		}
		if (i + 1 < n && tok[i] != tok[i + 1]) {
			memcpy(t, tok, n + 1);
			t[i] = tok[i + 1];
			t[i + 1] = tok[i];
			if (parses(t)) {
				fprintf(stderr, "  %s: swap at %zu accepted\n", tok, i);
				bad++;
			}
		}
	}
	return bad == 0;
}

static void
test_typos(void)
{
	uint8_t	p[TOKENFMT_ACCESS_BYTES];
	char	out[TOKENFMT_MAX_LEN + 1];
	int	i, ok_r = 1, ok_a = 1;

	for (i = 0; i < 20; i++) {
		rng_bytes(p, sizeof(p));
		tokenfmt_encode(TOKEN_REFRESH, p, 32, out, sizeof(out));
		if (!all_typos_rejected(out))
			ok_r = 0;
		tokenfmt_encode(TOKEN_ACCESS, p, 48, out, sizeof(out));
		if (!all_typos_rejected(out))
			ok_a = 0;
	}
	CHECK(ok_r, "every one-character change to a refresh token is refused");
	CHECK(ok_a, "every one-character change to an access token is refused");

	/* Edge payloads too: all zeros and all ones. */
	memset(p, 0, sizeof(p));
	tokenfmt_encode(TOKEN_REFRESH, p, 32, out, sizeof(out));
	CHECK(all_typos_rejected(out), "typos in the all-zero refresh token");
	memset(p, 0xff, sizeof(p));
	tokenfmt_encode(TOKEN_ACCESS, p, 48, out, sizeof(out));
	CHECK(all_typos_rejected(out), "typos in the all-ones access token");
}

static void
test_structure(void)
{
	struct tokenfmt	tf;
	uint8_t		p[TOKENFMT_ACCESS_BYTES];
	char		r[TOKENFMT_MAX_LEN + 2], a[TOKENFMT_MAX_LEN + 2];
	char		t[TOKENFMT_MAX_LEN + 16];

	rng_bytes(p, sizeof(p));
	tokenfmt_encode(TOKEN_REFRESH, p, 32, r, sizeof(r));
	tokenfmt_encode(TOKEN_ACCESS, p, 48, a, sizeof(a));
	CHECK(parses(r) && parses(a), "valid tokens parse");

	/* Wrong prefixes, even with a checksum computed over them. */
	snprintf(t, sizeof(t), "%s", r);
	memcpy(t, "TKR_", 4);
	fix_checksum(t);
	CHECK(!parses(t), "prefix is case-sensitive");
	snprintf(t, sizeof(t), "%s", r);
	memcpy(t, "tkx_", 4);
	fix_checksum(t);
	CHECK(!parses(t), "unknown prefix");
	snprintf(t, sizeof(t), "%s", r);
	t[3] = '-';
	fix_checksum(t);
	CHECK(!parses(t), "prefix needs its underscore");
	snprintf(t, sizeof(t), "%s", r);
	memcpy(t, "tka_", 4);
	fix_checksum(t);
	CHECK(!parses(t), "refresh length with the access prefix");
	snprintf(t, sizeof(t), "%s", a);
	memcpy(t, "tkr_", 4);
	fix_checksum(t);
	CHECK(!parses(t), "access length with the refresh prefix");

	/* Wrong lengths. */
	CHECK(tokenfmt_parse(r, 53, &tf) == -1, "refresh one short");
	CHECK(tokenfmt_parse(a, 75, &tf) == -1, "access one short");
	CHECK(tokenfmt_parse(r, 0, &tf) == -1, "empty");
	CHECK(tokenfmt_parse("tkr_", 4, &tf) == -1, "prefix alone");
	snprintf(t, sizeof(t), "%s0", r);
	CHECK(!parses(t), "refresh one long");
	snprintf(t, sizeof(t), "%s0", a);
	CHECK(!parses(t), "access one long");
	snprintf(t, sizeof(t), "%s\n", r);
	CHECK(!parses(t), "trailing newline");
	snprintf(t, sizeof(t), " %s", r);
	CHECK(!parses(t), "leading space");
	/* The parser looks at exactly len bytes. */
	snprintf(t, sizeof(t), "%s%s", r, "x");
	CHECK(tokenfmt_parse(t, 54, &tf) == 0, "len bounds the parse");
	CHECK(tokenfmt_parse(t, 55, &tf) == -1, "one byte more is not a token");
	snprintf(t, sizeof(t), "%.54s", a);
	fix_checksum(t);
	CHECK(!parses(t), "an access token cut to refresh length");
}

/* Blocks of 2^64 and more are refused even when the checksum matches. */
static void
test_overflow(void)
{
	struct tokenfmt	tf;
	char		t[TOKENFMT_MAX_LEN + 1];
	int		blk;

	for (blk = 0; blk < 4; blk++) {
		memset(t, '0', TOKENFMT_REFRESH_LEN);
		memcpy(t, "tkr_", 4);
		t[TOKENFMT_REFRESH_LEN] = '\0';
		memcpy(t + 4 + 11 * blk, "LygHa16AHYF", 11);
		fix_checksum(t);
		CHECK(parses(t), "2^64-1 in a block is fine");
		memcpy(t + 4 + 11 * blk, "LygHa16AHYG", 11);
		fix_checksum(t);
		CHECK(!parses(t), "2^64 in a block is refused");
		memcpy(t + 4 + 11 * blk, "zzzzzzzzzzz", 11);
		fix_checksum(t);
		CHECK(!parses(t), "62^11-1 in a block is refused");
		memcpy(t + 4 + 11 * blk, "M0000000000", 11);
		fix_checksum(t);
		CHECK(!parses(t), "a high top digit is refused");
	}
	memset(t, '0', TOKENFMT_ACCESS_LEN);
	memcpy(t, "tka_", 4);
	t[TOKENFMT_ACCESS_LEN] = '\0';
	memcpy(t + 4 + 11 * 5, "LygHa16AHYG", 11);
	fix_checksum(t);
	CHECK(!parses(t), "overflow in the last access block");
	memcpy(t + 4 + 11 * 5, "LygHa16AHYF", 11);
	fix_checksum(t);
	CHECK(tokenfmt_parse(t, strlen(t), &tf) == 0 &&
	    tokenfmt_load64(tf.payload + 40) == UINT64_MAX, "last block max");

	/* A checksum field over 32 bits never matches. */
	memset(t, '0', TOKENFMT_REFRESH_LEN);
	memcpy(t, "tkr_", 4);
	t[TOKENFMT_REFRESH_LEN] = '\0';
	fix_checksum(t);
	CHECK(parses(t), "all-zero refresh token");
	memcpy(t + 48, "zzzzzz", 6);
	CHECK(!parses(t), "checksum over 32 bits");
	/* The checksum covers the prefix: same body, other prefix, other CRC. */
	CHECK(tokenfmt_crc32("tkr_0", 5) != tokenfmt_crc32("tka_0", 5),
	    "the prefix is checksummed");
}

int
main(void)
{
	test_crc();
	test_load_store();
	test_ids();
	test_id_digits();
	test_round_trips();
	test_encode_args();
	test_typos();
	test_structure();
	test_overflow();
	return check_summary("tokenfmt");
}
