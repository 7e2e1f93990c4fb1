/* SPDX-License-Identifier: ISC */
/*
 * tokend: the command line.  Started by hand or by systemd, tokend is the
 * monitor (monitor.c), which starts the engine (engine.c); the same binary
 * is the PAM helper (pamchild.c), the account helper (accountchild.c)
 * and in fleet mode the fleet process (fleet.c) when the monitor starts
 * it with their flags.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "config.h"
#include "fleet.h"
#include "monitor.h"
#include "pamhelper.h"

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tokend [-f|--foreground] [-c FILE] [--socket PATH] "
	    "[--db DIR]\n"
	    "              [--key-file FILE] [--pam-service NAME] "
	    "[--pam-confdir DIR]\n"
	    "              [--user NAME] [-d|--debug]\n"
	    "       tokend -n [-c FILE] [options]   (check the configuration)\n"
	    "       tokend --key-id [-c FILE] [--key-file FILE]\n"
	    "       tokend --init-db [-c FILE]   (fleet mode: create or "
	    "upgrade the schema)\n"
	    "       tokend --import-lmdb DIR [-c FILE]   (fleet mode: copy a "
	    "one-host store in)\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "db",		required_argument,	NULL, 'D' },
		{ "key-file",	required_argument,	NULL, 'k' },
		{ "pam-service", required_argument,	NULL, 'p' },
		{ "pam-confdir", required_argument,	NULL, 'P' },
		{ "user",	required_argument,	NULL, 'u' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "key-id",	no_argument,		NULL, 'K' },
		{ "init-db",	no_argument,		NULL, 'I' },
		{ "import-lmdb", required_argument,	NULL, 'L' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct monitor_opts	opts;
	int			ch;

	/* The processes the monitor starts from this same binary. */
	if (argc >= 2 && strcmp(argv[1], "--engine") == 0)
		engine_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--pam-helper") == 0)
		pamchild_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--account-helper") == 0)
		accountchild_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--fleet") == 0)
		fleet_main(argc, argv);

	memset(&opts, 0, sizeof(opts));
	while ((ch = getopt_long(argc, argv, "fc:dhnV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':	opts.foreground = 1; break;
		case 'c':
			if (strlen(optarg) >= sizeof(opts.conf_path))
				usage(2);
			memcpy(opts.conf_path, optarg, strlen(optarg) + 1);
			opts.conf_given = 1;
			break;
		/* In the order of monitor.h's flags[]. */
		case 's':	opts.flags[0] = optarg; break;
		case 'D':	opts.flags[1] = optarg; break;
		case 'k':	opts.flags[2] = optarg; break;
		case 'p':	opts.flags[3] = optarg; break;
		case 'P':	opts.flags[4] = optarg; break;
		case 'u':	opts.flags[5] = optarg; break;
		case 'd':	opts.debug = 1; break;
		case 'n':	opts.check = 1; break;
		case 'K':	opts.key_id = 1; break;
		case 'I':	opts.init_db = 1; break;
		case 'L':	opts.import_lmdb = optarg; break;
		case 'h':	usage(0);
		case 'V':	printf("tokend %s\n", TOKEND_VERSION); return 0;
		default:	usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (!opts.conf_given)
		snprintf(opts.conf_path, sizeof(opts.conf_path), "%s",
		    TOKEND_CONF_FILE);
	monitor_main(&opts);
}
