/* SPDX-License-Identifier: ISC */
/*
 * fuzzkey.h: token_keys_load() insists on a 0600 file of 32 bytes owned by
 * us, so write one into a fresh temporary directory, load it, remove both.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "token.h"
#include "fuzzkey.h"

static const unsigned char fuzzkey[TOKEN_KEY_BYTES] = {
	0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79,	/* "fuzz-key" */
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
};

struct token_keys *
fuzzkey_load(void)
{
	struct token_keys	*keys = NULL;
	char			 dir[] = "/tmp/tokend-fuzz.XXXXXX";
	char			 path[PATH_MAX], *cause = NULL;
	int			 fd;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/hash.key", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, fuzzkey, sizeof(fuzzkey)) !=
	    (ssize_t)sizeof(fuzzkey) || close(fd) == -1) {
		perror(path);
		exit(1);
	}
	if (token_keys_load(path, 0, &keys, &cause) == -1) {
		fprintf(stderr, "fuzzkey: %s\n", cause != NULL ? cause : "?");
		exit(1);
	}
	unlink(path);
	rmdir(dir);
	return keys;
}
