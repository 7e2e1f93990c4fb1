/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config: the input as a whole tokend.conf through the real parser,
 * config_load() (daemon/config.c).  The file is a memfd opened by its
 * /proc/self/fd path, so nothing touches the disk.  On error the
 * configuration must be untouched; on success every rule config_check()
 * promises must hold.
 */
#include <sys/mman.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "proto.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	conf_fd = -1;
static char	conf_path[64];

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_config: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((conf_fd = memfd_create("tokend.conf", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
	return 0;
}

static void
check_str(const char *s, size_t size, const char *what, int absolute)
{
	if (memchr(s, '\0', size) == NULL)
		FAIL("%s not terminated", what);
	if (absolute && s[0] != '/')
		FAIL("%s is not absolute: %s", what, s);
}

static void
check_conf(const struct config *c)
{
	check_str(c->socket_path, sizeof(c->socket_path), "socket_path", 1);
	check_str(c->db_dir, sizeof(c->db_dir), "db_dir", 1);
	check_str(c->key_file, sizeof(c->key_file), "key_file", 1);
	check_str(c->pam_service, sizeof(c->pam_service), "pam_service", 0);
	check_str(c->pam_confdir, sizeof(c->pam_confdir), "pam_confdir", 0);
	check_str(c->admin_group, sizeof(c->admin_group), "admin_group", 0);
	check_str(c->verifier_group, sizeof(c->verifier_group),
	    "verifier_group", 0);
	if (c->pam_service[0] == '\0' || strchr(c->pam_service, '/') != NULL)
		FAIL("pam_service '%s' accepted", c->pam_service);
	if (c->max_connections < 1 || c->max_connections_per_uid < 1 ||
	    c->max_connections_per_uid > c->max_connections)
		FAIL("connection limits %u/%u accepted",
		    c->max_connections_per_uid, c->max_connections);
	if (c->max_frame < 256 || c->max_frame > TOKEND_FRAME_MAX)
		FAIL("max_frame %u accepted", c->max_frame);
	if (c->idle_timeout < 1 || c->pam_timeout < 1 ||
	    c->max_pam_helpers < 1 || c->fail_delay_ms > 10000 ||
	    c->max_tokens_per_user < 1 || c->purge_interval < 10 ||
	    c->last_used_flush < 1 || c->last_used_flush > 60)
		FAIL("a limit out of range accepted");
	if (c->pam_serialize != 0 && c->pam_serialize != 1)
		FAIL("pam_serialize %d", c->pam_serialize);
	if (c->refresh_default < 60 || c->refresh_default > c->refresh_max ||
	    c->access_default < 1 || c->access_default > c->access_max ||
	    c->access_max > 86400)
		FAIL("token lifetimes out of range accepted");
	if (c->map_size < 1024 * 1024)
		FAIL("map_size %ju accepted", (uintmax_t)c->map_size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	conf, before;
	char		*cause = NULL;

	if (ftruncate(conf_fd, 0) == -1 ||
	    (size > 0 && pwrite(conf_fd, data, size, 0) != (ssize_t)size))
		abort();
	config_defaults(&conf);
	memcpy(&before, &conf, sizeof(before));
	if (config_load(&conf, conf_path, 1, &cause) == -1) {
		if (memcmp(&conf, &before, sizeof(conf)) != 0)
			FAIL("a file with an error changed the configuration "
			    "(%s)", cause != NULL ? cause : "no cause");
		free(cause);
		return 0;
	}
	if (cause != NULL)
		FAIL("success with a cause: %s", cause);
	check_conf(&conf);
	return 0;
}
