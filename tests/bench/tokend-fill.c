/* SPDX-License-Identifier: ISC */
/*
 * tokend-fill: write refresh-token records straight into a tokend
 * database, without PAM, so a benchmark can run against a million tokens.
 * The records are real (same key file, same hashing), so the daemon
 * verifies the sample it prints.  Stop the daemon first.
 *
 *   tokend-fill --db DIR --key-file FILE --count N [--sample K] [--per-user P]
 *
 * Tokens belong to fake uids from 200000 up, P per uid (default 50), and
 * K of them (default 1000, spread evenly) are printed, one per line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proto.h"
#include "store.h"
#include "token.h"
#include "tokenfmt.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: tokend-fill --db DIR --key-file FILE --count N "
	    "[--sample K] [--per-user P]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db",		required_argument, NULL, 'd' },
		{ "key-file",	required_argument, NULL, 'k' },
		{ "count",	required_argument, NULL, 'n' },
		{ "sample",	required_argument, NULL, 's' },
		{ "per-user",	required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct token_record	 rec;
	struct token_keys	*keys = NULL;
	struct store		*st = NULL;
	const char		*db = NULL, *keyfile = NULL;
	char			 text[TOKENFMT_MAX_LEN + 1], *cause = NULL;
	unsigned long		 count = 0, sample = 1000, per_user = 50, i, every;
	int64_t			 now = (int64_t)time(NULL);
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': db = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 's': sample = strtoul(optarg, NULL, 10); break;
		case 'p': per_user = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (db == NULL || keyfile == NULL || count == 0 || per_user == 0)
		usage();
	log_init(1, 0);
	if (store_open(&st, db, (size_t)4 << 30, &cause) == -1 ||
	    token_keys_load(keyfile, 1, &keys, &cause) == -1 ||
	    store_set_sync(st, 0, &cause) != STORE_OK)
		fatalx("%s", cause ? cause : "cannot open");
	every = sample ? (count / sample ? count / sample : 1) : 0;
	for (i = 0; i < count; i++) {
		memset(&rec, 0, sizeof(rec));
		if (token_mint_refresh(keys, text, sizeof(text), &rec.id,
		    rec.hash) == -1)
			fatalx("cannot mint");
		rec.kind = TOKEN_REFRESH;
		rec.uid = 200000 + (uint32_t)(i / per_user);
		snprintf(rec.user, sizeof(rec.user), "fill%u", rec.uid);
		snprintf(rec.name, sizeof(rec.name), "fill-%lu", i);
		rec.created = now;
		rec.expires = now + 90 * 86400;
		rec.nscopes = 1;
		snprintf(rec.scopes[0], sizeof(rec.scopes[0]), "read");
		rc = store_put_token(st, &rec, 0, now, &cause);
		if (rc != STORE_OK)
			fatalx("record %lu: %s", i, cause ? cause : "store error");
		if (every && i % every == 0)
			printf("%s\n", text);
	}
	if (store_set_sync(st, 1, &cause) != STORE_OK)
		fatalx("%s", cause ? cause : "cannot sync");
	store_close(st);
	token_keys_free(keys);
	fprintf(stderr, "tokend-fill: wrote %lu tokens\n", count);
	return 0;
}
