/* SPDX-License-Identifier: ISC */
/*
 * The fixed master key of fuzz_token and seedgen, so access tokens in the
 * seed corpus carry a MAC the fuzzer accepts.  Test-only, never a real key.
 */
#ifndef TOKEND_FUZZKEY_H
#define TOKEND_FUZZKEY_H

struct token_keys;

/* Load the fixed key through token_keys_load(); exits on failure. */
struct token_keys	*fuzzkey_load(void);

#endif /* TOKEND_FUZZKEY_H */
