/* SPDX-License-Identifier: ISC */
/*
 * fuzz_token: token text from anywhere (EXCHANGE, VERIFY, pam_tokend).
 * tokenfmt_parse() on the exact bytes, then token_parse() with a fixed key
 * (fuzzkey.c): both must agree on the format, and a token that parses
 * must encode back to the same text.  Ids go through tokenfmt_id_parse()
 * and back the same way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "token.h"
#include "tokenfmt.h"
#include "fuzzkey.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct token_keys	*keys;

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_token: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	keys = fuzzkey_load();
	return 0;
}

static void
check_id(const uint8_t *data, size_t size)
{
	char		s[TOKENFMT_BLOCK_CHARS + 8], back[TOKENFMT_BLOCK_CHARS + 1];
	uint64_t	id;

	if (size >= sizeof(s) || memchr(data, '\0', size) != NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tokenfmt_id_parse(s, &id) == -1)
		return;
	tokenfmt_id_str(id, back);
	if (strcmp(s, back) != 0)
		FAIL("id %s reads back as %s", s, back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tokenfmt		tf;
	struct token_claims	c;
	char			out[TOKENFMT_MAX_LEN + 1];
	char			*s;
	int			fmt_ok, tok_ok;

	/* Exactly the input, no terminator: a read past it is a bug. */
	if ((s = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(s, data, size);

	fmt_ok = tokenfmt_parse(s, size, &tf) == 0;
	if (fmt_ok) {
		if (tf.kind != TOKEN_REFRESH && tf.kind != TOKEN_ACCESS)
			FAIL("kind %d", tf.kind);
		if (tokenfmt_encode(tf.kind, tf.payload, tf.len, out,
		    sizeof(out)) == -1)
			FAIL("a parsed token does not encode");
		if (strlen(out) != size || memcmp(out, s, size) != 0)
			FAIL("%.*s encodes back as %s", (int)size, s, out);
	}

	tok_ok = token_parse(keys, s, size, &c) == 0;
	if (tok_ok && !fmt_ok)
		FAIL("token_parse accepts what tokenfmt_parse refuses");
	if (fmt_ok && tf.kind == TOKEN_REFRESH && !tok_ok)
		FAIL("token_parse refuses a well-formed refresh token");
	if (tok_ok) {
		if (c.kind != tf.kind || c.rid != tokenfmt_load64(tf.payload))
			FAIL("claims do not match the payload");
		if (c.kind == TOKEN_ACCESS &&
		    (c.jti != tokenfmt_load64(tf.payload + 8) ||
		    c.scope_mask != tokenfmt_load64(tf.payload + 24) ||
		    (uint64_t)c.iat << 32 != (tokenfmt_load64(tf.payload + 16) &
		    0xffffffff00000000ULL) ||
		    (uint64_t)c.exp != (tokenfmt_load64(tf.payload + 16) &
		    0xffffffffULL)))
			FAIL("access claims do not match the payload");
	}

	check_id(data, size);
	free(s);
	return 0;
}
